// Entry point: wires the client, the runtime indicator, the commands and the container-file provider.
import * as vscode from 'vscode';
import { SeroClient } from './client';
import { Commands } from './commands';
import { ContainerFiles } from './containerFiles';
import { CONTAINER_SCHEME } from './protocol';
import { REPORT_SCHEME, ReportDocument } from './reportDocument';
import { affectsSero, onlyTraceChanged } from './settings';
import { StatusView } from './status';
import { stateFileWriter } from './testHook';

const RESTART_DEBOUNCE_MS = 500;

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

    // Any sero.* change restarts sero-ls (debounced: typing in the settings editor fires often).
    let timer: NodeJS.Timeout | undefined;
    const client = sero;
    context.subscriptions.push(
        vscode.workspace.onDidChangeConfiguration((event) => {
            if (!affectsSero(event) || onlyTraceChanged(event)) {
                return;
            }
            clearTimeout(timer);
            timer = setTimeout(() => {
                output.info('sero.* settings changed: restarting sero-ls');
                void client.restart().then(() => files.refreshOpen(CONTAINER_SCHEME));
            }, RESTART_DEBOUNCE_MS);
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
