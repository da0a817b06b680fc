import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import { SETTING_ROWS, settingName } from '../core/config/settingsTable';
import { Commands, CONFIG_SECTION } from './constants';
import { parseJsonc } from './jsonc';

/** The machine-scoped settings: a remote or browser window applies them from Remote settings only. */
const MACHINE_KEYS = SETTING_ROWS.filter((row) => row.scope === 'machine').map((row) => row.key);

/**
 * In a remote or browser window VS Code ignores machine-scoped settings written in User settings (it
 * greys them out: "cannot be applied in this window"), so a profile written there silently goes
 * missing. This reads the User settings file and, where an `agentPool.*` machine setting there is not
 * what the window applies, says so once, naming the settings, with buttons that copy them to Remote
 * settings or open those.
 */
export class IgnoredUserSettings implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private lastSaid: string | undefined;
  private lastFound: string[] = [];
  private checking: Promise<string[]> | undefined;

  constructor(
    private readonly userSettings: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(vscode.commands.registerCommand(Commands.copyUserSettingsToRemote, () => this.copyToRemote()));
    if (!IgnoredUserSettings.applies()) return;
    this.disposables.push(vscode.workspace.onDidChangeConfiguration(() => void this.check()));
    try {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(userSettings, '..'), 'settings.json'));
      this.disposables.push(watcher, watcher.onDidChange(() => void this.check()), watcher.onDidCreate(() => void this.check()));
    } catch (error) {
      this.log.debug(`not watching ${userSettings.toString()}: ${errorMessage(error)}`);
    }
  }

  /** What the last check found ignored (the names of the settings). */
  get ignored(): readonly string[] {
    return this.lastFound;
  }

  /** Only a remote or browser window splits User from Remote settings. */
  static applies(): boolean {
    return vscode.env.remoteName !== undefined || vscode.env.uiKind === vscode.UIKind.Web;
  }

  /** The settings User settings set but this window does not apply; tells the user when that set changed. */
  check(): Promise<string[]> {
    this.checking ??= this.find()
      .then((ignored) => {
        const said = JSON.stringify(ignored);
        if (ignored.length > 0 && said !== this.lastSaid) void this.tell(ignored.map((entry) => entry.key));
        this.lastSaid = said;
        this.lastFound = ignored.map((entry) => `${CONFIG_SECTION}.${entry.key}`);
        return this.lastFound;
      })
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async find(): Promise<Array<{ key: string; value: unknown }>> {
    if (!IgnoredUserSettings.applies()) return [];
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(this.userSettings));
    } catch {
      return [];
    }
    const user = parseJsonc(text);
    if (!user) return [];
    const configuration = vscode.workspace.getConfiguration(CONFIG_SECTION);
    return MACHINE_KEYS.filter((key) => `${CONFIG_SECTION}.${key}` in user)
      .map((key) => ({ key, value: user[`${CONFIG_SECTION}.${key}`] }))
      .filter(({ key, value }) => JSON.stringify(configuration.inspect(key)?.globalValue) !== JSON.stringify(value));
  }

  private async tell(keys: string[]): Promise<void> {
    const names = keys.map((key) => settingName(SETTING_ROWS.find((row) => row.key === key)!)).join(', ');
    const where = vscode.env.remoteName ? `this remote window (${vscode.env.remoteName})` : 'this browser window';
    this.log.warn(`${names} ${keys.length === 1 ? 'is' : 'are'} set in User settings, which ${where} does not apply to machine settings; they belong in Remote settings`);
    const copy = 'Copy to Remote Settings';
    const open = 'Open Remote Settings';
    const choice = await vscode.window.showWarningMessage(
      `Agent Pool: ${names} ${keys.length === 1 ? 'is' : 'are'} written in your User settings, which ${where} ignores for machine settings (the Settings editor says "cannot be applied in this window"), so Agent Pool does not see ${keys.length === 1 ? 'it' : 'them'}. Put ${keys.length === 1 ? 'it' : 'them'} in the Remote settings.`,
      copy,
      open,
    );
    if (choice === copy) {
      await vscode.commands.executeCommand(Commands.copyUserSettingsToRemote);
    } else if (choice === open) {
      await vscode.commands.executeCommand('workbench.action.openRemoteSettingsFile').then(undefined, () => vscode.commands.executeCommand('workbench.action.openSettings', `@id:${CONFIG_SECTION}.${keys[0]}`));
    }
  }

  /** Copies the ignored settings' User values to the Remote settings; returns their names. */
  async copyToRemote(): Promise<string[]> {
    const ignored = await this.find();
    const configuration = vscode.workspace.getConfiguration(CONFIG_SECTION);
    // From a remote extension host, the Global target is the Remote settings.
    for (const { key, value } of ignored) await configuration.update(key, value, vscode.ConfigurationTarget.Global);
    const names = ignored.map(({ key }) => `${CONFIG_SECTION}.${key}`);
    if (names.length > 0) {
      this.log.info(`copied ${names.join(', ')} from User to Remote settings`);
      void vscode.window.showInformationMessage(`Agent Pool: copied ${names.join(', ')} to the Remote settings; they apply in this window now.`);
    }
    return names;
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
