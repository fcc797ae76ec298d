// Entry point: wires the client, the runtime indicator, the commands and the container-file provider.
import * as vscode from 'vscode';
import { SeroClient } from './client';
import { Commands } from './commands';
import { ContainerFiles } from './containerFiles';
import { CONTAINER_SCHEME } from './protocol';
import { REPORT_SCHEME, ReportDocument } from './reportDocument';
import { affects, RESTART_KEYS, SERVER_SETTING_KEYS } from './settings';
import { StatusView } from './status';
import { stateFileWriter } from './testHook';

const SETTINGS_DEBOUNCE_MS = 500;

let sero: SeroClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel('Sero', { log: true });
    const view = new StatusView();
    sero = new SeroClient(output, view);
    const files = new ContainerFiles(sero, output);
    const report = new ReportDocument();
    const commands = new Commands(sero, view, output, report);
    context.subscriptions.push(output, view, sero, files, report, ...commands.register());
    context.subscriptions.push(
        vscode.workspace.registerTextDocumentContentProvider(CONTAINER_SCHEME, files),
        vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, report),
    );
    const hook = stateFileWriter(view);
    if (hook) {
        context.subscriptions.push(hook);
    }

    // A change of how sero-ls starts (serverPath, interpreter) or of the languages it is sent
    // restarts it; any other sero.* change reaches the running sero-ls as
    // workspace/didChangeConfiguration, and its language servers keep running. Debounced: typing
    // in the settings editor fires often.
    let timer: NodeJS.Timeout | undefined;
    let restart = false;
    const client = sero;
    context.subscriptions.push(
        vscode.workspace.onDidChangeConfiguration((event) => {
            const startsDifferently = affects(event, RESTART_KEYS);
            if (!startsDifferently && !affects(event, SERVER_SETTING_KEYS)) {
                return; // e.g. sero.trace.server: languageclient reads it itself
            }
            restart ||= startsDifferently;
            clearTimeout(timer);
            timer = setTimeout(() => {
                const now = restart || client.languagesChanged();
                restart = false;
                if (now) {
                    output.info('sero.* settings changed: restarting sero-ls');
                    void client.restart().then(() => files.refreshOpen(CONTAINER_SCHEME));
                } else {
                    output.info('sero.* settings changed: sent to sero-ls (no restart)');
                    void client.configurationChanged();
                }
            }, SETTINGS_DEBOUNCE_MS);
        }),
        vscode.workspace.onDidChangeWorkspaceFolders(() => {
            if (!client.current()) {
                void client.start();
            }
        }),
        { dispose: () => clearTimeout(timer) },
    );
    void client.start();
}

export async function deactivate(): Promise<void> {
    await sero?.stop();
    sero = undefined;
}
