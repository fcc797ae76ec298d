// Which sero-ls to start, and why: setting, interpreter, project venv, PATH (in that order).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const INSTALL_COMMAND = 'pipx install sero-ls';
export const MISSING_MESSAGE = 'sero-ls was not found (checked the settings sero.serverPath and sero.interpreter, '
    + `the project's .venv and PATH). Install it with \`${INSTALL_COMMAND}\`, or \`python -m pip install sero-ls\` `
    + "in the project's virtual environment, then run Sero: Restart Language Servers.";

export interface ServerLaunch {
    command: string;
    args: string[];
    /** Where the command came from, for the log and the status tooltip. */
    source: string;
}

export interface Lookup {
    launch: ServerLaunch | undefined;
    /** Each place looked at, in order, with what was found there. */
    steps: string[];
}

export interface LookupInput {
    serverPath: string[];
    interpreter: string[];
    folders: string[];
    envPath: string | undefined;
    platform: NodeJS.Platform;
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** Expands `~`, `${userHome}`, `${workspaceFolder}` (the first folder) in one argument. */
export function expand(arg: string, folders: string[]): string {
    let out = arg.replace(/\$\{userHome\}/g, os.homedir());
    if (folders.length > 0) {
        out = out.replace(/\$\{workspaceFolder\}/g, folders[0]);
    }
    if (out === '~' || out.startsWith('~/')) {
        out = path.join(os.homedir(), out.slice(1));
    }
    return out;
}

function venvCandidates(folder: string, platform: NodeJS.Platform): string[] {
    const names = platform === 'win32' ? ['Scripts/sero-ls.exe'] : ['bin/sero-ls'];
    return ['.venv', 'venv', 'env'].flatMap((venv) => names.map((n) => path.join(folder, venv, n)));
}

function onPath(envPath: string | undefined, platform: NodeJS.Platform): string | undefined {
    const exe = platform === 'win32' ? 'sero-ls.exe' : 'sero-ls';
    for (const dir of (envPath ?? '').split(path.delimiter)) {
        if (dir && isExecutable(path.join(dir, exe))) {
            return path.join(dir, exe);
        }
    }
    return undefined;
}

export function findServer(input: LookupInput): Lookup {
    const steps: string[] = [];
    if (input.serverPath.length > 0) {
        const [command, ...args] = input.serverPath.map((a) => expand(a, input.folders));
        steps.push(`sero.serverPath = ${JSON.stringify(input.serverPath)}: using ${command}`);
        return { launch: { command, args, source: 'setting sero.serverPath' }, steps };
    }
    steps.push('sero.serverPath: not set');
    if (input.interpreter.length > 0) {
        const [command, ...args] = input.interpreter.map((a) => expand(a, input.folders));
        steps.push(`sero.interpreter = ${JSON.stringify(input.interpreter)}: running ${command} -m sero_ls`);
        return {
            launch: { command, args: [...args, '-m', 'sero_ls', 'serve'], source: 'setting sero.interpreter' },
            steps,
        };
    }
    steps.push('sero.interpreter: not set');
    for (const folder of input.folders) {
        for (const candidate of venvCandidates(folder, input.platform)) {
            if (isExecutable(candidate)) {
                steps.push(`project venv: found ${candidate}`);
                return { launch: { command: candidate, args: ['serve'], source: `project venv (${candidate})` }, steps };
            }
        }
        steps.push(`project venv: no sero-ls under ${folder}/{.venv,venv,env}`);
    }
    const found = onPath(input.envPath, input.platform);
    if (found) {
        steps.push(`PATH: found ${found}`);
        return { launch: { command: found, args: ['serve'], source: `PATH (${found})` }, steps };
    }
    steps.push('PATH: no sero-ls');
    return { launch: undefined, steps };
}
