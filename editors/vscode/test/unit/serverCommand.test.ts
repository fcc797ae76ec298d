import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { expand, findServer, type LookupInput } from '../../src/serverCommand';

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpdir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sero-vscode-unit-'));
    made.push(dir);
    return dir;
}

function executable(file: string): string {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
    return file;
}

const none: LookupInput = { serverPath: [], interpreter: [], folders: [], envPath: '', platform: 'linux' };

test('sero.serverPath wins, with ${workspaceFolder} expanded', () => {
    const found = findServer({ ...none, serverPath: ['${workspaceFolder}/bin/sero-ls', '-v'], folders: ['/p'] });
    assert.deepEqual([found.launch?.command, found.launch?.args], ['/p/bin/sero-ls', ['-v']]);
    assert.equal(found.launch?.source, 'setting sero.serverPath');
});

test('sero.interpreter runs the module', () => {
    const found = findServer({ ...none, interpreter: ['/usr/bin/python3'] });
    assert.deepEqual(found.launch?.args, ['-m', 'sero_ls', 'serve']);
});

test("a project venv's sero-ls comes before PATH", () => {
    const folder = tmpdir();
    const bin = tmpdir();
    const venv = executable(path.join(folder, '.venv', 'bin', 'sero-ls'));
    executable(path.join(bin, 'sero-ls'));
    const found = findServer({ ...none, folders: [folder], envPath: bin });
    assert.equal(found.launch?.command, venv);
    assert.deepEqual(found.launch?.args, ['serve']);
});

test('a non-executable file is not picked; PATH is searched in order', () => {
    const folder = tmpdir();
    fs.mkdirSync(path.join(folder, '.venv', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(folder, '.venv', 'bin', 'sero-ls'), '', { mode: 0o644 });
    const first = tmpdir();
    const second = tmpdir();
    const onPath = executable(path.join(second, 'sero-ls'));
    const found = findServer({ ...none, folders: [folder], envPath: [first, second].join(path.delimiter) });
    assert.equal(found.launch?.command, onPath);
});

test('nothing found: no launch, and every place looked at is reported', () => {
    const folder = tmpdir();
    const found = findServer({ ...none, folders: [folder], envPath: tmpdir() });
    assert.equal(found.launch, undefined);
    assert.equal(found.steps.length, 4);
    assert.match(found.steps.join('\n'), /PATH: no sero-ls/);
});

test('expand: ~ and ${userHome}', () => {
    assert.equal(expand('~/x', []), path.join(os.homedir(), 'x'));
    assert.equal(expand('${userHome}/y', []), `${os.homedir()}/y`);
    assert.equal(expand('a~b', []), 'a~b');
});
