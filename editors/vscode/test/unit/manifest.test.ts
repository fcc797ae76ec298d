import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
const properties: Record<string, { scope?: string; description?: string; markdownDescription?: string; default?: unknown }> =
    manifest.contributes.configuration.properties;

// CONTRACT §6: key -> default.
const CONTRACT: Record<string, unknown> = {
    runtime: 'auto',
    containerBackend: 'auto',
    containerCli: null,
    container: null,
    image: 'sero-node:latest',
    probeTimeout: 5,
    servers: {},
};

test('every CONTRACT §6 setting is contributed, per folder, with its default and a description', () => {
    for (const [key, value] of Object.entries(CONTRACT)) {
        const prop = properties[`sero.${key}`];
        assert.ok(prop, `sero.${key} is missing`);
        assert.equal(prop.scope, 'resource', `sero.${key} is not per folder`);
        assert.deepEqual(prop.default, value, `sero.${key} default`);
        assert.ok((prop.description ?? prop.markdownDescription ?? '').length > 20, `sero.${key} description`);
    }
});

test('every setting has a description', () => {
    for (const [key, prop] of Object.entries(properties)) {
        assert.ok(prop.description || prop.markdownDescription, key);
    }
});

test('every palette command is titled under the Sero category', () => {
    const titles = manifest.contributes.commands.map((c: { category: string; title: string }) => `${c.category}: ${c.title}`);
    for (const t of ['Show Runtime Status', 'Switch Runtime', 'Start Container System', 'Open Logs', 'Open Terminal',
        'Restart Language Servers']) {
        assert.ok(titles.includes(`Sero: ${t}`), t);
    }
});

test("no palette command id collides with the server's executeCommand ids (languageclient registers those)", () => {
    const ids = manifest.contributes.commands.map((c: { command: string }) => c.command);
    for (const serverCommand of ['sero.startContainerSystem', 'sero.refreshStatus', 'sero.setRuntime']) {
        assert.ok(!ids.includes(serverCommand), serverCommand);
    }
});
