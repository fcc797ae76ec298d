// The palette commands (category "Sero") and the status quick pick.
import * as vscode from 'vscode';
import { CodeActionRequest, type LanguageClient } from 'vscode-languageclient/node';
import type { SeroClient } from './client';
import { doctorReport, label } from './present';
import {
    type FolderStatus,
    logs,
    resolveTerminal,
    type Runtime,
    serverCommands,
    setRuntime,
    trustFolder,
    workspaceStatus,
} from './protocol';
import type { ReportDocument } from './reportDocument';
import type { StatusView } from './status';

interface Action extends vscode.QuickPickItem {
    run?: () => Promise<unknown>;
}

const RUNTIMES: { runtime: Runtime; icon: string; detail: string }[] = [
    { runtime: 'auto', icon: '$(sync)', detail: 'The container when it is available, else the host' },
    { runtime: 'container', icon: '$(vm)', detail: "Run in the folder's container" },
    { runtime: 'host', icon: '$(device-desktop)', detail: 'Run on the host' },
];

export class Commands {
    constructor(
        private readonly sero: SeroClient,
        private readonly view: StatusView,
        private readonly output: vscode.LogOutputChannel,
        private readonly report: ReportDocument,
    ) {}

    register(): vscode.Disposable[] {
        const wrap = (name: string, fn: () => Promise<unknown>) => vscode.commands.registerCommand(name, async () => {
            try {
                await fn();
            } catch (e) {
                const message = e instanceof Error ? e.message : String(e);
                this.output.error(`${name}: ${message}`);
                void vscode.window.showErrorMessage(`Sero: ${message}`);
            }
        });
        return [
            wrap('sero.showRuntimeStatus', () => this.showRuntimeStatus()),
            wrap('sero.switchRuntime', () => this.switchRuntime()),
            wrap('sero.startContainerSystemUi', () => this.startContainerSystem()),
            wrap('sero.refreshRuntimeStatus', () => this.refresh()),
            wrap('sero.showDoctorReport', () => this.showDoctorReport()),
            wrap('sero.openLogs', () => this.openLogs()),
            wrap('sero.openTerminal', () => this.openTerminal()),
            wrap('sero.restartLanguageServers', () => this.restart()),
            wrap('sero.trustFolderUi', () => this.trustFolder()),
        ];
    }

    private async folder(placeHolder: string): Promise<vscode.WorkspaceFolder | undefined> {
        const folders = vscode.workspace.workspaceFolders ?? [];
        if (folders.length <= 1 || vscode.window.activeTextEditor) {
            const current = this.view.currentFolder();
            if (!current) {
                throw new Error('open a folder first: Sero resolves the runtime per workspace folder.');
            }
            return current;
        }
        return vscode.window.showWorkspaceFolderPick({ placeHolder });
    }

    async showRuntimeStatus(): Promise<void> {
        const folder = await this.folder('Runtime status of which folder?');
        if (!folder) {
            return;
        }
        const status = this.view.get(folder);
        const items: Action[] = [];
        items.push({ label: 'Switch runtime', kind: vscode.QuickPickItemKind.Separator });
        for (const r of RUNTIMES) {
            const current = status?.requested === r.runtime;
            items.push({
                label: `${r.icon} Use ${r.runtime[0].toUpperCase()}${r.runtime.slice(1)}`,
                description: current ? '(requested now)' : undefined,
                detail: r.detail,
                run: () => this.applyRuntime(folder, r.runtime),
            });
        }
        const fixes = await this.fixes(folder).catch(() => [] as Action[]);
        items.push({ label: 'Actions', kind: vscode.QuickPickItemKind.Separator }, ...fixes);
        if (status?.trust?.state === 'untrusted') {
            items.push({ label: "$(shield) Trust this folder's sero config", run: () => this.trustFolder(folder) });
        }
        items.push(
            { label: '$(play) Start Container System', run: () => this.startContainerSystem(folder) },
            { label: '$(refresh) Refresh', run: () => this.refresh() },
            { label: '$(report) Show Doctor Report', run: () => this.showDoctorReport() },
            { label: '$(output) Open Logs', run: () => this.openLogs() },
            { label: '$(terminal) Open Terminal', run: () => this.openTerminal(folder) },
        );
        const title = status ? `Sero: ${label(status)} (${folder.name})` : `Sero (${folder.name})`;
        const pick = await vscode.window.showQuickPick(items, {
            title,
            placeHolder: status ? `${status.message}${status.reason ? ` [${status.reason}]` : ''}` : 'Status unknown',
            matchOnDetail: true,
        });
        await pick?.run?.();
    }

    /** The server's code actions for this folder's capability diagnostics (same as in the Problems panel). */
    private async fixes(folder: vscode.WorkspaceFolder): Promise<Action[]> {
        const diagnostics = vscode.languages.getDiagnostics(folder.uri).filter((d) => d.source === 'sero');
        if (diagnostics.length === 0) {
            return [];
        }
        const client = await this.sero.ready(2000);
        const result = await client.sendRequest(CodeActionRequest.type, {
            textDocument: { uri: client.code2ProtocolConverter.asUri(folder.uri) },
            range: client.code2ProtocolConverter.asRange(diagnostics[0].range),
            context: { diagnostics: await client.code2ProtocolConverter.asDiagnostics(diagnostics) },
        });
        const actions: Action[] = [];
        for (const entry of result ?? []) {
            const command = 'command' in entry && typeof entry.command === 'string'
                ? { command: entry.command, arguments: (entry as { arguments?: unknown[] }).arguments }
                : (entry as { command?: { command: string; arguments?: unknown[] } }).command;
            if (command) {
                actions.push({
                    label: `$(lightbulb) ${entry.title}`,
                    run: () => this.execute(client, command.command, command.arguments ?? []),
                });
            }
        }
        return actions;
    }

    private async execute(client: LanguageClient, command: string, args: unknown[]): Promise<void> {
        await client.sendRequest('workspace/executeCommand', { command, arguments: args });
        await this.refresh();
    }

    async switchRuntime(): Promise<void> {
        const folder = await this.folder('Switch the runtime of which folder?');
        if (!folder) {
            return;
        }
        const requested = this.view.get(folder)?.requested;
        const pick = await vscode.window.showQuickPick(
            RUNTIMES.map((r) => ({
                label: `${r.icon} ${r.runtime}`,
                description: requested === r.runtime ? '(requested now)' : undefined,
                detail: r.detail,
                runtime: r.runtime,
            })),
            { title: `Sero: switch the runtime of ${folder.name}`, placeHolder: 'auto, container or host' },
        );
        if (pick) {
            await this.applyRuntime(folder, pick.runtime);
        }
    }

    private async applyRuntime(folder: vscode.WorkspaceFolder, runtime: Runtime): Promise<void> {
        const client = await this.sero.ready();
        this.output.info(`Switching ${folder.name} to ${runtime}`);
        const status = await client.sendRequest(setRuntime, {
            uri: client.code2ProtocolConverter.asUri(folder.uri),
            runtime,
        });
        this.view.update([status]);
    }

    async startContainerSystem(folder?: vscode.WorkspaceFolder): Promise<void> {
        const target = folder ?? (await this.folder('Start the container system for which folder?'));
        if (!target) {
            return;
        }
        const client = await this.sero.ready();
        await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'Sero: starting the container system...' },
            async () => {
                await client.sendRequest('workspace/executeCommand', {
                    command: serverCommands.startContainerSystem,
                    arguments: [client.code2ProtocolConverter.asUri(target.uri)],
                });
            },
        );
        await this.refresh();
    }

    /** sero/trustFolder after a modal that names what the folder's .sero/config.toml runs and
     *  its sha256; only that content is trusted (sero-ls refuses if the file changed since). */
    async trustFolder(folder?: vscode.WorkspaceFolder): Promise<void> {
        const target = folder ?? (await this.folder('Trust the sero config of which folder?'));
        if (!target) {
            return;
        }
        const client = await this.sero.ready();
        const uri = client.code2ProtocolConverter.asUri(target.uri);
        const trust = (await client.sendRequest(workspaceStatus, { uri })).folders[0]?.trust;
        if (trust?.state !== 'untrusted') {
            void vscode.window.showInformationMessage(trust
                ? `Sero: ${trust.config} is already trusted.`
                : `Sero: the sero config of ${target.name} names nothing to run.`);
            return;
        }
        const open = 'Open the File';
        const answer = await vscode.window.showWarningMessage(
            `Trust ${trust.config}?`,
            {
                modal: true,
                detail: `sero-ls will run or pass on what it names: ${trust.ignored.join(', ')}.\n`
                    + `Only this content is trusted (sha256 ${trust.sha256}); an edit revokes it.`,
            },
            'Trust', open,
        );
        if (answer === open) {
            await vscode.window.showTextDocument(vscode.Uri.file(trust.config));
            return;
        }
        if (answer !== 'Trust') {
            return;
        }
        this.output.info(`Trusting ${trust.config} (sha256 ${trust.sha256})`);
        this.view.update([await client.sendRequest(trustFolder, { uri, sha256: trust.sha256 })]);
    }

    async refresh(): Promise<FolderStatus[]> {
        const client = await this.sero.ready();
        const result = await client.sendRequest(workspaceStatus, { refresh: true });
        this.view.update(result.folders);
        return result.folders;
    }

    async showDoctorReport(): Promise<void> {
        const folders = await this.refresh();
        await this.report.show(doctorReport(folders));
    }

    async openLogs(): Promise<void> {
        const showChannel = async () => this.output.show();
        const items: Action[] = [
            { label: '$(output) Sero output channel', detail: 'This extension: which sero-ls, its state, errors', run: showChannel },
        ];
        const client = this.sero.current();
        if (client) {
            const result = await client.sendRequest(logs, {});
            for (const log of result.logs) {
                const path = log.path;
                items.push({
                    label: `$(file) ${log.name}`,
                    description: log.exists ? `${log.size ?? 0} bytes` : 'not created yet',
                    detail: path ?? 'sero-ls logs to stderr (no --log-file)',
                    run: log.exists && path
                        ? async () => vscode.window.showTextDocument(
                            await vscode.workspace.openTextDocument(vscode.Uri.file(path)), { preview: true })
                        : async () => vscode.window.showInformationMessage(
                            path ? `Sero: ${path} does not exist yet.` : 'Sero: sero-ls writes no log file.'),
                });
            }
        }
        const pick = await vscode.window.showQuickPick(items, { title: 'Sero: open a log', matchOnDetail: true });
        await pick?.run?.();
    }

    async openTerminal(folder?: vscode.WorkspaceFolder): Promise<void> {
        const target = folder ?? (await this.folder('Open a terminal for which folder?'));
        if (!target) {
            return;
        }
        const client = await this.sero.ready();
        const spec = await client.sendRequest(resolveTerminal, { uri: client.code2ProtocolConverter.asUri(target.uri) });
        const [shellPath, ...shellArgs] = spec.argv;
        this.output.info(`Terminal for ${target.name}: ${spec.argv.join(' ')}${spec.message ? ` (${spec.message})` : ''}`);
        const terminal = vscode.window.createTerminal({
            name: `Sero: ${spec.title ?? target.name} (${spec.mode})`,
            shellPath,
            shellArgs,
            cwd: spec.cwd || target.uri.fsPath,
            env: spec.env,
            iconPath: new vscode.ThemeIcon(spec.mode === 'container' ? 'vm' : 'terminal'),
        });
        terminal.show();
    }

    async restart(): Promise<void> {
        this.output.info('Restarting sero-ls and its language servers');
        await this.sero.restart();
    }
}
