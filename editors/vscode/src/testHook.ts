// For end-to-end tests only: with SERO_VSCODE_STATE_FILE set, write what the indicator shows
// (and the folders' statuses) to that file on every change, so a driver can wait on it.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { StatusView } from './status';

export function stateFileWriter(view: StatusView): vscode.Disposable | undefined {
    const file = process.env.SERO_VSCODE_STATE_FILE;
    if (!file) {
        return undefined;
    }
    const events: { t: number; text: string }[] = [];
    const write = () => {
        const snap = view.snapshot();
        if (events.length === 0 || events[events.length - 1].text !== snap.text) {
            events.push({ t: Date.now(), text: snap.text });
        }
        const sero = vscode.languages.getDiagnostics()
            .flatMap(([uri, diags]) => diags.filter((d) => d.source === 'sero').map((d) => ({
                uri: uri.toString(),
                code: typeof d.code === 'object' ? String(d.code.value) : String(d.code ?? ''),
                message: d.message,
            })));
        const editor = vscode.window.activeTextEditor;
        const activeEditor = editor ? {
            uri: editor.document.uri.toString(),
            languageId: editor.document.languageId,
            lineCount: editor.document.lineCount,
        } : null;
        const state = { statusBar: snap, events, folders: view.all(), diagnostics: sero, activeEditor };
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1));
        fs.renameSync(`${file}.tmp`, file);
    };
    write();
    const a = view.onDidRender(write);
    const b = vscode.languages.onDidChangeDiagnostics(write);
    const c = vscode.window.onDidChangeActiveTextEditor(write);
    return vscode.Disposable.from(a, b, c);
}
