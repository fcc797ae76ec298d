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
] as const;

export type ServerSettings = Record<(typeof SERVER_KEYS)[number], unknown>;

/** The server's settings as seen from `scope` (a folder, a document, or undefined for the window). */
export function serverSettings(scope?: vscode.ConfigurationScope): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const out = {} as ServerSettings;
    for (const key of SERVER_KEYS) {
        out[key] = config.get(key) ?? null;
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

/** Whether a configuration change touches any `sero.*` setting of any open folder. */
export function affectsSero(event: vscode.ConfigurationChangeEvent): boolean {
    if (event.affectsConfiguration(SECTION)) {
        return true;
    }
    return (vscode.workspace.workspaceFolders ?? []).some((f) => event.affectsConfiguration(SECTION, f));
}

/** Only the trace level changed: the client picks that up itself, no restart needed. */
export function onlyTraceChanged(event: vscode.ConfigurationChangeEvent): boolean {
    if (!event.affectsConfiguration(`${SECTION}.trace`)) {
        return false;
    }
    const others = [...SERVER_KEYS, 'serverPath', 'interpreter'];
    return !others.some((k) => event.affectsConfiguration(`${SECTION}.${k}`));
}
