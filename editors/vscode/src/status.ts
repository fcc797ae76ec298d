// The runtime indicator: a status bar item and a LanguageStatusItem for the active editor's folder.
import * as vscode from 'vscode';
import { present } from './present';
import { CONTAINER_SCHEME, type FolderStatus } from './protocol';

/** Folder URIs as VS Code writes them, so the server's spelling does not matter. */
export function folderKey(uri: string | vscode.Uri): string {
    const parsed = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri;
    return parsed.toString().replace(/\/+$/, '');
}

export type ClientState = { kind: 'starting' } | { kind: 'running' } | { kind: 'missing'; message: string }
    | { kind: 'failed'; message: string } | { kind: 'stopped' };

export class StatusView implements vscode.Disposable {
    private readonly folders = new Map<string, FolderStatus>();
    private readonly item: vscode.StatusBarItem;
    private readonly language: vscode.LanguageStatusItem;
    private readonly disposables: vscode.Disposable[] = [];
    private readonly changed = new vscode.EventEmitter<void>();
    private lastFolder: vscode.WorkspaceFolder | undefined;
    private client: ClientState = { kind: 'starting' };
    /** What was last shown: an unchanged status is not pushed again (that would close an open hover). */
    private shown = '';

    /** Fires after each re-render (tests and the state file listen). */
    readonly onDidRender = this.changed.event;

    constructor() {
        this.item = vscode.window.createStatusBarItem('sero.runtime', vscode.StatusBarAlignment.Left, 100);
        this.item.name = 'Sero Runtime';
        this.item.command = 'sero.showRuntimeStatus';
        this.language = vscode.languages.createLanguageStatusItem('sero.runtime', [
            { scheme: 'file' },
            { scheme: CONTAINER_SCHEME },
        ]);
        this.language.name = 'Sero Runtime';
        this.disposables.push(
            this.item,
            this.language,
            this.changed,
            vscode.window.onDidChangeActiveTextEditor(() => this.render()),
            vscode.workspace.onDidChangeWorkspaceFolders(() => this.render()),
        );
        this.render();
    }

    dispose(): void {
        this.disposables.forEach((d) => d.dispose());
    }

    setClientState(state: ClientState): void {
        this.client = state;
        if (state.kind !== 'running') {
            this.folders.clear();
        }
        this.render();
    }

    update(folders: FolderStatus[]): void {
        for (const f of folders) {
            this.folders.set(folderKey(f.uri), f);
        }
        this.render();
    }

    all(): FolderStatus[] {
        return [...this.folders.values()];
    }

    get(folder: vscode.WorkspaceFolder): FolderStatus | undefined {
        return this.folders.get(folderKey(folder.uri));
    }

    /** The folder of the active editor; for container-only files, the folder last shown. */
    currentFolder(): vscode.WorkspaceFolder | undefined {
        const folders = vscode.workspace.workspaceFolders ?? [];
        const doc = vscode.window.activeTextEditor?.document;
        const fromEditor = doc ? vscode.workspace.getWorkspaceFolder(doc.uri) : undefined;
        if (fromEditor) {
            this.lastFolder = fromEditor;
        } else if (!this.lastFolder || !folders.includes(this.lastFolder)) {
            this.lastFolder = folders[0];
        }
        return this.lastFolder;
    }

    currentStatus(): FolderStatus | undefined {
        const folder = this.currentFolder();
        return folder ? this.get(folder) : undefined;
    }

    /** What the status bar shows now (also written to the test state file). */
    snapshot(): { text: string; tooltip: string; folder: string | undefined } {
        const tooltip = this.item.tooltip;
        return {
            text: this.item.text,
            tooltip: typeof tooltip === 'string' ? tooltip : tooltip?.value ?? '',
            folder: this.currentFolder()?.uri.toString(),
        };
    }

    private render(): void {
        const status = this.currentStatus();
        const signature = JSON.stringify([this.client, status ? { ...status, checkedAt: null } : null]);
        if (signature === this.shown) {
            return;
        }
        this.shown = signature;
        if (status) {
            const p = present(status);
            const tooltip = new vscode.MarkdownString(p.tooltip, true);
            tooltip.isTrusted = { enabledCommands: commandsInTooltip };
            this.item.text = `${p.icon} ${p.label}`;
            this.item.tooltip = tooltip;
            this.item.accessibilityInformation = { label: `Sero runtime: ${p.label}. ${p.detail}` };
            this.item.backgroundColor = p.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
            this.language.text = `${p.icon} ${p.label}`;
            this.language.detail = p.detail;
            this.language.severity = p.warning ? vscode.LanguageStatusSeverity.Warning
                : vscode.LanguageStatusSeverity.Information;
            this.language.command = { title: 'Switch Runtime', command: 'sero.switchRuntime' };
            this.language.busy = false;
        } else {
            const [text, tooltip, severity] = this.placeholder();
            this.item.text = text;
            this.item.tooltip = tooltip;
            this.item.accessibilityInformation = { label: tooltip };
            this.item.backgroundColor = severity === vscode.LanguageStatusSeverity.Error
                ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
            this.language.text = text;
            this.language.detail = tooltip;
            this.language.severity = severity;
            this.language.busy = this.client.kind === 'starting';
            this.language.command = { title: 'Open Logs', command: 'sero.openLogs' };
        }
        this.item.show();
        this.changed.fire();
    }

    private placeholder(): [string, string, vscode.LanguageStatusSeverity] {
        switch (this.client.kind) {
            case 'missing':
                return ['$(error) Sero: not installed', this.client.message, vscode.LanguageStatusSeverity.Error];
            case 'failed':
                return ['$(error) Sero', this.client.message, vscode.LanguageStatusSeverity.Error];
            case 'stopped':
                return ['$(circle-slash) Sero', 'sero-ls is stopped', vscode.LanguageStatusSeverity.Information];
            default:
                return ['$(loading~spin) Sero', 'Resolving the runtime of this folder...',
                    vscode.LanguageStatusSeverity.Information];
        }
    }
}

const commandsInTooltip = ['sero.switchRuntime', 'sero.refreshRuntimeStatus', 'sero.showDoctorReport', 'sero.openLogs'];
