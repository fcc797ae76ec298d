// The sero-ls LSP surface this extension uses (CONTRACT §4, §5): plain types and method names.
import { NotificationType, RequestType } from 'vscode-languageclient/node';

export type Runtime = 'auto' | 'container' | 'host';
export type Mode = 'container' | 'host';

export interface Mount {
    host: string;
    container: string;
    readOnly: boolean;
    /** "bind" (a host folder), or the runtime's own storage ("volume", "tmpfs", ...). */
    type: string;
}

export interface ContainerInfo {
    id: string;
    state: string;
    image: string | null;
    ip: string | null;
    name: string | null;
    created: string | null;
    /** How it was found, and the user and environment every exec into it uses. */
    foundBy: string | null;
    execUser: string | null;
    execEnv: Record<string, string>;
}

export interface RuntimeInfo {
    backend: string | null;
    cli: string | null;
    system: 'running' | 'not-running' | 'missing' | 'unknown';
    container: ContainerInfo | null;
    mounts: Mount[];
    /** The `containerContext` setting in use (docker --context / podman --connection). */
    context: string | null;
}

export interface DevcontainerInfo {
    configFile: string | null;
    localFolder: string | null;
    workspaceFolder: string | null;
    remoteUser: string | null;
    containerUser: string | null;
    userEnvProbe: string | null;
    remoteEnv: Record<string, string>;
    containerEnv: Record<string, string>;
    probeError: string | null;
}

export interface ComposeInfo {
    project: string;
    service: string | null;
    workingDir: string;
    services: string[];
}

export interface Capability {
    id: string;
    available: boolean;
    requires: 'container' | 'any';
    reason?: string | null;
}

export interface ServerEntry {
    id: string;
    languages: string[];
    mode: Mode | null;
    state: 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';
    pid: number | null;
    restarts: number;
    reason?: string | null;
    message?: string | null;
}

export interface DockerfileInfo {
    path: string;
    modified: string | null;
    image: string | null;
    imageCreated: string | null;
    stale: boolean;
}

/** Whether the folder's .sero/config.toml may run what it names (sero-ls extension). */
export interface TrustInfo {
    state: 'trusted' | 'untrusted';
    config: string;
    sha256: string;
    ignored: string[];
    changed: boolean;
    line: number;
}

export interface FolderStatus {
    uri: string;
    name: string;
    requested: Runtime;
    mode: Mode;
    degraded: boolean;
    reason: string | null;
    message: string;
    remedy: string[];
    runtime: RuntimeInfo | null;
    capabilities: Capability[];
    servers: ServerEntry[];
    checkedAt: string | null;
    /** sero-ls extensions (docs/protocol.md): why the container is stale, and its Dockerfile. */
    stale: string[];
    dockerfile: DockerfileInfo | null;
    /** null: the folder's .sero/config.toml names nothing to run (docs/protocol.md). */
    trust: TrustInfo | null;
    /** The Dev Container and the Docker Compose project of the folder's container. */
    devcontainer: DevcontainerInfo | null;
    compose: ComposeInfo | null;
}

export interface FoldersParams {
    folders: FolderStatus[];
}

export interface TerminalSpec {
    mode: Mode;
    argv: string[];
    /** On the host (the process's working directory; a container shell gets its own in argv). */
    cwd: string;
    env: Record<string, string>;
    /** sero-ls extensions: a terminal title and a one-line explanation. */
    title?: string;
    message?: string;
}

export interface LogEntry {
    name: string;
    path: string | null;
    exists: boolean;
    size: number | null;
    modified: string | null;
}

export const workspaceStatus = new RequestType<{ uri?: string; refresh?: boolean }, FoldersParams, void>(
    'sero/workspaceStatus',
);
export const statusChanged = new NotificationType<FoldersParams>('sero/statusChanged');
export const setRuntime = new RequestType<{ uri: string; runtime: Runtime }, FolderStatus, void>('sero/setRuntime');
export const resolveTerminal = new RequestType<{ uri: string }, TerminalSpec, void>('sero/resolveTerminal');
export const trustFolder = new RequestType<{ uri: string; sha256?: string; revoke?: boolean }, FolderStatus, void>(
    'sero/trustFolder',
);
export const logs = new RequestType<Record<string, never>, { logs: LogEntry[] }, void>('sero/logs');
export const containerFile = new RequestType<{ uri: string }, { text: string }, void>('sero/containerFile');
export const textDocumentContent = new RequestType<{ uri: string }, { text: string }, void>(
    'workspace/textDocumentContent',
);

/** Commands sero-ls offers through workspace/executeCommand (and as code actions). */
export const serverCommands = {
    startContainerSystem: 'sero.startContainerSystem',
    refreshStatus: 'sero.refreshStatus',
    setRuntime: 'sero.setRuntime',
} as const;

export const CONTAINER_SCHEME = 'sero-container';
