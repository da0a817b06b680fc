import assert from 'node:assert/strict';
import { defaultRegistryDirectory, resolveRegistryDirectory } from '../../../src/core/directory/layout';

describe('registry directory', () => {
  it('uses XDG_STATE_HOME on Linux when it is absolute, else ~/.local/state', () => {
    assert.equal(defaultRegistryDirectory({ platform: 'linux', env: { XDG_STATE_HOME: '/xdg/state' }, homedir: '/home/ann' }), '/xdg/state/agent-pool');
    assert.equal(defaultRegistryDirectory({ platform: 'linux', env: {}, homedir: '/home/ann' }), '/home/ann/.local/state/agent-pool');
    assert.equal(
      defaultRegistryDirectory({ platform: 'linux', env: { XDG_STATE_HOME: 'relative/state' }, homedir: '/home/ann' }),
      '/home/ann/.local/state/agent-pool',
    );
  });

  it('uses Application Support on macOS and LOCALAPPDATA on Windows', () => {
    assert.equal(
      defaultRegistryDirectory({ platform: 'darwin', env: { XDG_STATE_HOME: '/ignored' }, homedir: '/Users/ann' }),
      '/Users/ann/Library/Application Support/agent-pool',
    );
    assert.equal(
      defaultRegistryDirectory({ platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\ann\\AppData\\Local' }, homedir: 'C:\\Users\\ann' }),
      'C:\\Users\\ann\\AppData\\Local\\agent-pool',
    );
    assert.equal(defaultRegistryDirectory({ platform: 'win32', env: {}, homedir: 'C:\\Users\\ann' }), 'C:\\Users\\ann\\AppData\\Local\\agent-pool');
  });

  it('takes the setting when set, expanding ~, and the default when it is blank', () => {
    const linux = { platform: 'linux' as const, env: {}, homedir: '/home/ann' };
    assert.equal(resolveRegistryDirectory('~/pool', linux), '/home/ann/pool');
    assert.equal(resolveRegistryDirectory('/srv/pool/', linux), '/srv/pool');
    assert.equal(resolveRegistryDirectory('   ', linux), '/home/ann/.local/state/agent-pool');
    assert.equal(resolveRegistryDirectory(undefined, linux), '/home/ann/.local/state/agent-pool');
  });
});
