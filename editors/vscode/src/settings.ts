// Settings: the `sero.*` keys of CONTRACT §6 that go to the server, and the client's own keys.
import * as vscode from 'vscode';

export const SECTION = 'sero';

/** Keys sent to sero-ls (CONTRACT §6 and sero-ls's documented extensions). The other `sero.*`
 * keys (serverPath, interpreter, trace) belong to this extension. */
export const SERVER_KEYS = [
    'runtime',
    'containerBackend',
    'containerCli',
    'container',
    'image',
    'probeTimeout',
    'servers',
    'dockerfile',
    'pollInterval',
    'trace',
] as const;

export type ServerSettings = Record<(typeof SERVER_KEYS)[number], unknown>;

/** Server keys whose VS Code setting has another name (`sero.trace` holds `trace.server`). */
const VSCODE_KEY: Partial<Record<(typeof SERVER_KEYS)[number], string>> = { trace: 'trace.proxy' };

/** Client keys that change how sero-ls is started: only these restart it. */
export const RESTART_KEYS = ['serverPath', 'interpreter'] as const;

/** The server's settings as seen from `scope` (a folder, a document, or undefined for the window). */
export function serverSettings(scope?: vscode.ConfigurationScope): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const out = {} as ServerSettings;
    for (const key of SERVER_KEYS) {
        out[key] = config.get(VSCODE_KEY[key] ?? key) ?? null;
    }
    return out;
}

export interface ClientSettings {
    serverPath: string[];
    interpreter: string[];
}

export function clientSettings(): ClientSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    return {
        serverPath: config.get<string[]>('serverPath') ?? [],
        interpreter: config.get<string[]>('interpreter') ?? [],
    };
}

/** Whether a configuration change touches `sero.<key>` (any of `keys`) for the window or any open folder. */
export function affects(event: vscode.ConfigurationChangeEvent, keys: readonly string[]): boolean {
    const scopes: (vscode.WorkspaceFolder | undefined)[] = [undefined, ...(vscode.workspace.workspaceFolders ?? [])];
    return keys.some((k) => scopes.some((scope) => event.affectsConfiguration(`${SECTION}.${k}`, scope)));
}

/** The `sero.*` keys sero-ls reads (sent with workspace/didChangeConfiguration, no restart). */
export const SERVER_SETTING_KEYS: readonly string[] = SERVER_KEYS.map((k) => VSCODE_KEY[k] ?? k);
