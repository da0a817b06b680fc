import * as vscode from 'vscode';
import { readSettings, SECTION, type Settings } from '../core/config/settings';
import { resolveProfiles } from '../core/agents/profiles';
import { errorMessage } from '../core/common/errors';

/**
 * Reads `agentPool.*` and keeps the last valid configuration in force. Every rejected value is
 * reported once (log + warning naming the setting) until it changes.
 */
export class SettingsReader {
  private current: Settings | undefined;
  private reported = new Set<string>();

  constructor(
    private readonly log: vscode.LogOutputChannel,
    private readonly distDirectory: string,
  ) {}

  read(): Settings {
    const configuration = vscode.workspace.getConfiguration(SECTION);
    const { settings, problems } = readSettings((key) => configuration.get(key), this.current);
    try {
      resolveProfiles(settings.profiles, this.distDirectory);
    } catch (error) {
      problems.push(`${errorMessage(error)} The previous profiles stay in force.`);
      settings.profiles = this.current?.profiles ?? {};
    }
    this.report(problems);
    this.current = settings;
    return settings;
  }

  private report(problems: string[]): void {
    const fresh = problems.filter((p) => !this.reported.has(p));
    this.reported = new Set(problems);
    for (const problem of fresh) {
      this.log.warn(problem);
      void vscode.window.showWarningMessage(`Agent Pool: ${problem}`, 'Open Settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', SECTION);
      });
    }
  }
}
