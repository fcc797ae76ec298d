// The doctor report as a read-only virtual document (`sero-report:`): never "dirty", no save prompt.
import * as vscode from 'vscode';

export const REPORT_SCHEME = 'sero-report';
export const REPORT_URI = vscode.Uri.from({ scheme: REPORT_SCHEME, path: '/Sero doctor report.md' });

export class ReportDocument implements vscode.TextDocumentContentProvider, vscode.Disposable {
    private text = '';
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;

    provideTextDocumentContent(): string {
        return this.text;
    }

    async show(text: string): Promise<void> {
        this.text = text;
        this.changed.fire(REPORT_URI);
        const doc = await vscode.workspace.openTextDocument(REPORT_URI);
        await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
        await vscode.window.showTextDocument(doc, { preview: true });
    }

    dispose(): void {
        this.changed.dispose();
    }
}
