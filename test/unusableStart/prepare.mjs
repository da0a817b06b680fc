// The unusableStart suite's window starts with agentPool.registryDirectory naming a regular file: the registry
// directory is unusable from the first moment ("not a directory", which needs no root). The tests learn the
// path from AGENT_POOL_TEST_REGISTRY_FILE.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function prepare({ scratch }) {
  const registryFile = join(scratch, 'registry-is-a-file');
  writeFileSync(registryFile, 'a file where the registry directory should be\n');
  return {
    machineSettings: { 'agentPool.registryDirectory': registryFile },
    env: { AGENT_POOL_TEST_REGISTRY_FILE: registryFile },
  };
}
