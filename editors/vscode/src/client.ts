// Starting, stopping and restarting the one sero-ls hub that serves every workspace folder.
import * as vscode from 'vscode';
import {
    DidChangeConfigurationNotification,
    LanguageClient,
    type LanguageClientOptions,
    type ServerOptions,
    State,
    TransportKind,
    type DocumentSelector,
} from 'vscode-languageclient/node';
import { CONTAINER_SCHEME, statusChanged, workspaceStatus } from './protocol';
import { findServer, INSTALL_COMMAND, MISSING_MESSAGE } from './serverCommand';
import { clientSettings, SECTION, serverSettings } from './settings';
import type { StatusView } from './status';

export const CLIENT_ID = 'sero';
const CLIENT_NAME = 'Sero';

function languagesFromSettings(): string[] {
    const languages = new Set<string>(['python']);
    const scopes: (vscode.WorkspaceFolder | undefined)[] = [undefined, ...(vscode.workspace.workspaceFolders ?? [])];
    for (const scope of scopes) {
        const servers = vscode.workspace.getConfiguration(SECTION, scope).get<Record<string, unknown>>('servers') ?? {};
        for (const spec of Object.values(servers)) {
            const langs = (spec as { languages?: unknown }).languages;
            if (Array.isArray(langs)) {
                langs.filter((l): l is string => typeof l === 'string').forEach((l) => languages.add(l));
            }
        }
    }
    return [...languages];
}

function documentSelector(): DocumentSelector {
    return [
        ...languagesFromSettings().map((language) => ({ scheme: 'file', language })),
        { scheme: CONTAINER_SCHEME },
        { scheme: 'file', pattern: '**/.sero/config.toml' },
    ];
}

/** Answers `workspace/configuration` for section `sero` with the server's keys, per scope. */
function configurationFor(items: { section?: string; scopeUri?: string }[]): unknown[] {
    return items.map((item) => {
        const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
        return item.section === SECTION ? serverSettings(scope) : vscode.workspace.getConfiguration(item.section, scope);
    });
}

function buildClientOptions(output: vscode.LogOutputChannel, trace: vscode.LogOutputChannel): LanguageClientOptions {
    return {
        documentSelector: documentSelector(),
        outputChannel: output,
        traceOutputChannel: trace,
        initializationOptions: { settings: serverSettings() },
        middleware: {
            workspace: {
                configuration: (params, token, next) => params.items.some((i) => i.section === SECTION)
                    ? configurationFor(params.items)
                    : next(params, token),
            },
        },
    };
}

export class SeroClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private starting: Promise<void> | undefined;
    private readonly readyWaiters: { resolve: (c: LanguageClient) => void; reject: (e: Error) => void }[] = [];

    /** The LSP trace: on when this channel's log level is Trace; sero.trace.server picks the detail. */
    private traceChannel: vscode.LogOutputChannel | undefined;

    /** The languages sero-ls was started for (see languagesChanged). */
    private languages = '';

    constructor(
        private readonly output: vscode.LogOutputChannel,
        private readonly view: StatusView,
    ) {}

    private trace(): vscode.LogOutputChannel {
        this.traceChannel ??= vscode.window.createOutputChannel('Sero LSP Trace', { log: true });
        return this.traceChannel;
    }

    /** The running client; waits while it starts, throws when sero-ls is not running. */
    async ready(timeoutMs = 30000): Promise<LanguageClient> {
        if (this.client?.state === State.Running) {
            return this.client;
        }
        if (!this.starting && (!this.client || this.client.state === State.Stopped)) {
            throw new Error('sero-ls is not running (see the Sero output channel).');
        }
        return new Promise<LanguageClient>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('sero-ls did not start in time.')), timeoutMs);
            this.readyWaiters.push({
                resolve: (c) => {
                    clearTimeout(timer);
                    resolve(c);
                },
                reject: (e) => {
                    clearTimeout(timer);
                    reject(e);
                },
            });
        });
    }

    /** Whether the languages the `servers` setting names differ from those sero-ls was started
     * with (the document selector is fixed at start: a new language needs a restart). */
    languagesChanged(): boolean {
        const now = languagesFromSettings().sort().join(',');
        return this.client !== undefined && now !== this.languages;
    }

    /** Tell the running sero-ls that sero.* settings changed (it pulls them per folder). */
    async configurationChanged(): Promise<void> {
        const client = this.client;
        if (client?.state !== State.Running) {
            return;
        }
        try {
            await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { sero: serverSettings() } });
        } catch (e) {
            this.output.warn(`workspace/didChangeConfiguration failed: ${String(e)}`);
        }
    }

    current(): LanguageClient | undefined {
        return this.client;
    }

    async start(): Promise<void> {
        if (!this.starting) {
            this.starting = this.doStart().finally(() => {
                this.starting = undefined;
            });
        }
        return this.starting;
    }

    async restart(): Promise<void> {
        await this.starting?.catch(() => undefined);
        await this.stop();
        await this.start();
    }

    async stop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client) {
            this.output.info('Stopping sero-ls');
            try {
                await client.dispose(5000);
            } catch (e) {
                this.output.warn(`sero-ls did not stop cleanly: ${String(e)}`);
            }
        }
        this.view.setClientState({ kind: 'stopped' });
    }

    dispose(): void {
        void this.stop();
        this.traceChannel?.dispose();
    }

    private async doStart(): Promise<void> {
        const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
        const { serverPath, interpreter } = clientSettings();
        const lookup = findServer({ serverPath, interpreter, folders, envPath: process.env.PATH, platform: process.platform });
        lookup.steps.forEach((s) => this.output.info(`Looking for sero-ls: ${s}`));
        if (!lookup.launch) {
            const message = MISSING_MESSAGE;
            this.output.error(message);
            this.view.setClientState({ kind: 'missing', message });
            this.readyWaiters.splice(0).forEach((w) => w.reject(new Error(message)));
            void this.offerInstall(message);
            return;
        }
        const launch = lookup.launch;
        this.output.info(`Starting sero-ls from ${launch.source}: ${[launch.command, ...launch.args].join(' ')}`);
        const serverOptions: ServerOptions = {
            command: launch.command,
            args: launch.args,
            transport: TransportKind.stdio,
            options: { cwd: folders[0], env: { ...process.env } },
        };
        this.languages = languagesFromSettings().sort().join(',');
        const clientOptions = buildClientOptions(this.output, this.trace());
        const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
        this.client = client;
        this.view.setClientState({ kind: 'starting' });
        client.onNotification(statusChanged, (params) => this.view.update(params.folders));
        client.onDidChangeState((e) => {
            this.output.info(`sero-ls state: ${State[e.oldState]} -> ${State[e.newState]}`);
            if (this.client !== client) {
                return;
            }
            if (e.newState === State.Running) {
                // Also after the client restarted a crashed server by itself.
                this.view.setClientState({ kind: 'running' });
                this.readyWaiters.splice(0).forEach((w) => w.resolve(client));
            } else if (e.newState === State.Stopped) {
                this.view.setClientState({ kind: 'failed', message: 'sero-ls stopped: see the Sero output channel.' });
            }
        });
        try {
            await client.start();
        } catch (e) {
            const message = `sero-ls could not start (${launch.command}): ${e instanceof Error ? e.message : String(e)}`;
            this.output.error(message);
            this.view.setClientState({ kind: 'failed', message });
            this.client = undefined;
            this.readyWaiters.splice(0).forEach((w) => w.reject(new Error(message)));
            void vscode.window.showErrorMessage(message, 'Open Logs').then((pick) => {
                if (pick) {
                    this.output.show();
                }
            });
            return;
        }
        this.view.setClientState({ kind: 'running' });
        this.readyWaiters.splice(0).forEach((w) => w.resolve(client));
        try {
            const status = await client.sendRequest(workspaceStatus, {});
            this.view.update(status.folders);
        } catch (e) {
            this.output.warn(`sero/workspaceStatus failed: ${String(e)}`);
        }
    }

    private async offerInstall(message: string): Promise<void> {
        const copy = 'Copy Install Command';
        const settings = 'Open Settings';
        const pick = await vscode.window.showErrorMessage(message, copy, settings);
        if (pick === copy) {
            await vscode.env.clipboard.writeText(INSTALL_COMMAND);
        } else if (pick === settings) {
            await vscode.commands.executeCommand('workbench.action.openSettings', 'sero.serverPath');
        }
    }
}
