import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayPath, doctorReport, label, present, unavailable } from '../../src/present';
import type { FolderStatus } from '../../src/protocol';

function status(over: Partial<FolderStatus>): FolderStatus {
    return {
        uri: 'file:///home/u/proj', name: 'proj', requested: 'auto', mode: 'container', degraded: false,
        reason: null, message: 'Container-backed (podman): sero-proj running', remedy: [],
        runtime: {
            backend: 'podman', cli: '/usr/bin/podman', system: 'running',
            container: {
                id: 'sero-proj', state: 'running', image: 'sero-node:latest', ip: null,
                name: 'sero-proj', created: null, foundBy: 'label ai.sero.workspacePath',
                execUser: null, execEnv: {},
            },
            mounts: [{ host: '/home/u/proj', container: '/workspace', readOnly: false, type: 'bind' }],
            context: null,
        },
        capabilities: [{ id: 'language-servers', available: true, requires: 'container' }],
        servers: [], checkedAt: null, stale: [], dockerfile: null, trust: null, devcontainer: null,
        compose: null, ...over,
    };
}

const degraded = status({
    mode: 'host', degraded: true, reason: 'container-not-running',
    message: 'The workspace container sero-proj is exited. Continuing in host mode (degraded).',
    remedy: ['podman start sero-proj'],
    capabilities: [
        { id: 'language-servers', available: false, requires: 'container', reason: 'container-not-running' },
        { id: 'file-editing', available: true, requires: 'any' },
    ],
});

test('labels: Container, Host, Host (degraded)', () => {
    assert.equal(label(status({})), 'Container');
    assert.equal(label(status({ mode: 'host', requested: 'host', reason: 'runtime-host-selected' })), 'Host');
    assert.equal(label(degraded), 'Host (degraded)');
});

test('a degraded tooltip names the reason, the unavailable capabilities and the remedy', () => {
    const p = present(degraded);
    assert.equal(p.warning, true);
    assert.equal(p.icon, '$(warning)');
    assert.match(p.tooltip, /Reason: `container-not-running`/);
    assert.match(p.tooltip, /Unavailable: `language-servers`/);
    assert.doesNotMatch(p.tooltip, /file-editing/);
    assert.match(p.tooltip, /\* `podman start sero-proj`/);
    assert.match(p.detail, /\(container-not-running\)$/);
    assert.deepEqual(unavailable(degraded), ['language-servers']);
});

test('a healthy container tooltip has no reason or remedy lines', () => {
    const p = present(status({}));
    assert.equal(p.warning, false);
    assert.doesNotMatch(p.tooltip, /Reason:|Remedy:|Unavailable:/);
    assert.match(p.tooltip, /container `sero-proj` \(running\)/);
});

test('backticks in server text cannot break the tooltip markdown', () => {
    const p = present(status({ mode: 'host', degraded: true, reason: 'probe-failed', remedy: ['echo `x`'] }));
    assert.match(p.tooltip, /`echo 'x'`/);
});

test('the doctor report lists every folder with capabilities and mounts', () => {
    const report = doctorReport([status({}), degraded]);
    assert.match(report, /## proj: Container/);
    assert.match(report, /## proj: Host \(degraded\)/);
    assert.match(report, /\| language-servers \| no \| container-not-running \|/);
    assert.match(report, /mount: \/home\/u\/proj -> \/workspace/);
    assert.match(report, /remedy: `podman start sero-proj`/);
});

test('display paths decode file URIs and leave others alone', () => {
    assert.equal(displayPath('file:///tmp/my%20proj%20%C3%A9'), '/tmp/my proj é');
    assert.equal(displayPath('sero-container://c/usr/lib/x.py'), 'sero-container://c/usr/lib/x.py');
});

test('an untrusted config: the tooltip links the trust action, the report names the ignored keys', () => {
    const trust = {
        state: 'untrusted' as const, config: '/home/u/proj/.sero/config.toml', sha256: 'ab'.repeat(32),
        ignored: ['servers.x.command'], changed: false, line: 4,
    };
    const tip = present(status({ trust })).tooltip;
    assert.match(tip, /Untrusted config: ignored `servers\.x\.command`/);
    assert.match(tip, /\(command:sero\.trustFolderUi\)/);
    assert.match(doctorReport([status({ trust })]), /trust: untrusted .*ignored: servers\.x\.command/);
    assert.doesNotMatch(present(status({ trust: { ...trust, state: 'trusted', ignored: [] } })).tooltip, /Untrusted/);
});
