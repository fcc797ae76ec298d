// Drives code-server's real workbench in headless Chromium for tests/e2e/test_vscode.py.
//
//   node driver.js SCENARIO        env: CS_URL (workbench URL with ?folder=), OUT_DIR (screenshots),
//                                       STATE_FILE (what the extension writes, see src/testHook.ts)
//
// Talks to pytest by lines: prints `STEP <name>` and waits for `OK <name>` on stdin when the test
// must act outside the editor (stop a container); prints `SHOT <file>` for each screenshot and
// `PASS` at the end. Every wait has a deadline; nothing sleeps for a fixed time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { chromium } = require('playwright-core');

const CS_URL = process.env.CS_URL;
const OUT_DIR = process.env.OUT_DIR || '.';
const STATE_FILE = process.env.STATE_FILE;
const ITEM = '[id="sero-labs.sero.sero.runtime"]';
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Ask pytest to do something outside the editor and wait until it says it is done. */
async function step(name) {
    console.log(`STEP ${name}`);
    const { value, done } = await stdinLines.next();
    if (done || value.trim() !== `OK ${name}`) {
        throw new Error(`step ${name}: got ${done ? 'EOF' : JSON.stringify(value)}`);
    }
}

function state() {
    try {
        return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
    } catch {
        return null;
    }
}

async function until(what, predicate, timeout = 60000) {
    const end = Date.now() + timeout;
    for (;;) {
        const value = await predicate();
        if (value) {
            return value;
        }
        if (Date.now() > end) {
            const s = state();
            throw new Error(`timeout (${timeout} ms) waiting for ${what}; status bar history: `
                + JSON.stringify(s && s.events.map((e) => e.text)));
        }
        await new Promise((r) => setTimeout(r, 100));
    }
}

async function statusText(page) {
    const text = await page.locator(ITEM).textContent({ timeout: 1000 }).catch(() => null);
    return text === null ? null : text.trim();
}

async function waitStatus(page, expected, timeout = 60000) {
    let last = null;
    try {
        await until(`status bar "${expected}"`, async () => {
            last = await statusText(page);
            return last === expected;
        }, timeout);
    } catch (e) {
        throw new Error(`${e.message}; last text: ${JSON.stringify(last)}`);
    }
    log(`status bar reads "${expected}"`);
}

async function shot(page, name, locator) {
    const file = path.join(OUT_DIR, `${name}.png`);
    if (locator) {
        await locator.screenshot({ path: file });
    } else {
        await page.screenshot({ path: file });
    }
    console.log(`SHOT ${file}`);
}

/** The status bar, cropped to its left part where the indicator sits. */
async function shotStatusBar(page, name) {
    const bar = await page.locator('.part.statusbar').boundingBox();
    const file = path.join(OUT_DIR, `${name}.png`);
    await page.screenshot({ path: file, clip: { x: 0, y: bar.y - 2, width: 700, height: bar.height + 4 } });
    console.log(`SHOT ${file}`);
}

/** Hover the indicator and return the tooltip's text once it names `needle`. */
async function tooltip(page, needle, name) {
    const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: needle }).first();
    const file = path.join(OUT_DIR, `${name}.png`);
    let text = null;
    // A hover can close under us (the workbench re-lays out the status bar): hover again until
    // its text and a screenshot of it are taken.
    await until(`a tooltip naming ${needle}`, async () => {
        await page.mouse.move(700, 300);
        await page.locator(ITEM).hover();
        try {
            await hover.waitFor({ state: 'visible', timeout: 3000 });
            text = await hover.textContent({ timeout: 1000 });
            const bar = await page.locator('.part.statusbar').boundingBox({ timeout: 1000 });
            const box = await hover.boundingBox({ timeout: 1000 });
            const top = Math.max(0, Math.min(box.y, bar.y) - 10);
            await page.screenshot({ path: file, clip: { x: 0, y: top, width: Math.max(700, box.x + box.width + 10),
                height: bar.y + bar.height - top } });
            return true;
        } catch {
            return false;
        }
    }, 30000);
    console.log(`SHOT ${file}`);
    await page.mouse.move(700, 300);
    await page.keyboard.press('Escape');
    return text;
}

async function quickInput(page, text) {
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 15000 });
    await input.fill(text);
}

async function pick(page, label) {
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: 15000 });
    await row.click();
}

async function runCommand(page, title) {
    await page.keyboard.press('F1');
    await quickInput(page, `>${title}`);
    await pick(page, title);
    log(`ran "${title}"`);
}

async function openFile(page, name) {
    await page.keyboard.press('Control+P');
    await quickInput(page, name);
    await pick(page, name);
    await until(`editor on ${name}`, () => {
        const s = state();
        return s && s.activeEditor && s.activeEditor.uri.endsWith(`/${name}`);
    });
    await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 15000 });
}

/** Texts of the Problems panel's rows (the panel is opened first). */
async function problems(page) {
    const panel = page.locator('.markers-panel');
    if (!(await panel.isVisible().catch(() => false))) {
        await runCommand(page, 'View: Focus Problems');
        await panel.waitFor({ state: 'visible', timeout: 15000 });
    }
    return page.locator('.markers-panel .monaco-list-row').allTextContents();
}

async function waitProblems(page, what, predicate, timeout = 60000) {
    let rows = [];
    await until(`Problems panel: ${what}`, async () => {
        rows = await problems(page);
        return await predicate(rows);
    }, timeout);
    log(`Problems panel: ${what}: ${JSON.stringify(rows)}`);
    return rows;
}

async function openWorkbench(page) {
    await page.goto(CS_URL);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60000 });
    await page.locator(ITEM).waitFor({ timeout: 60000 });
    log('workbench and indicator up');
}

const scenarios = {
    // A folder whose backend CLI is missing: degraded, tooltip and diagnostic; then Switch Runtime -> host.
    async degraded(page) {
        await openWorkbench(page);
        await waitStatus(page, 'Host (degraded)');
        await shotStatusBar(page, 'status-host-degraded');
        const tip = await tooltip(page, 'container-cli-missing', 'tooltip-host-degraded');
        for (const needle of ['Unavailable', 'language-servers', 'Remedy']) {
            if (!tip.includes(needle)) {
                throw new Error(`tooltip lacks "${needle}": ${tip}`);
            }
        }
        log('tooltip names the reason, the unavailable capabilities and the remedy');
        await waitProblems(page, 'the capability diagnostic',
            (rows) => rows.some((r) => r.includes('container-cli-missing')));
        await shot(page, 'problems-degraded');

        // An invalid .sero/config.toml: an Error on its line, squiggled in the editor.
        await waitProblems(page, 'the config.toml error', (rows) => rows.some((r) => r.includes('invalid-setting')));
        await openFile(page, 'config.toml');
        await page.locator('.monaco-editor .squiggly-error').first().waitFor({ state: 'visible', timeout: 30000 });
        await shot(page, 'config-toml-error');
        log('config.toml error squiggled');

        // Clicking the indicator opens the quick pick, with the server's code actions for the diagnostic.
        await page.locator(ITEM).click();
        for (const label of ['Use Host', 'Use host mode for this folder', 'Start Container System',
            'Show Doctor Report', 'Open Logs']) {
            await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first()
                .waitFor({ state: 'visible', timeout: 15000 });
        }
        await shot(page, 'quickpick-degraded');
        await page.keyboard.press('Escape');
        log('the quick pick offers the runtimes, the code actions and the tools');

        await runCommand(page, 'Sero: Show Doctor Report');
        await until('the doctor report', async () => {
            const s = state();
            const text = (await page.locator('.monaco-editor .view-lines').first().innerText().catch(() => ''))
                .replace(/\u00a0/g, ' ');
            return s && s.activeEditor && s.activeEditor.uri.startsWith('sero-report:')
                && s.activeEditor.languageId === 'markdown'
                && text.includes('Sero doctor report') && text.includes('container-cli-missing');
        });
        await shot(page, 'doctor-report');

        await runCommand(page, 'Sero: Switch Runtime');
        await quickInput(page, 'host');
        await pick(page, 'Run on the host');
        await waitStatus(page, 'Host');
        await shotStatusBar(page, 'status-host');
        await tooltip(page, 'runtime-host-selected', 'tooltip-host');
        await waitProblems(page, 'no capability diagnostic (the config.toml error stays)', (rows) =>
            !rows.some((r) => r.includes('container-cli-missing')) && rows.some((r) => r.includes('invalid-setting')));
        await shot(page, 'problems-host');

        // A restart of sero-ls keeps the switched runtime (persisted per user by sero/setRuntime).
        const before = state().events.length;
        await runCommand(page, 'Sero: Restart Language Servers');
        // While it restarts the indicator shows a placeholder ("Sero", no runtime).
        const placeholder = await until('the indicator to show the restart', () => {
            const i = state().events.findIndex((e, n) => n >= before && e.text.endsWith(' Sero'));
            return i >= 0 ? i + 1 : 0;
        });
        // The final state, not a transient one: the extension's own record has moved past the
        // placeholder to Host (the DOM may still show the Host from before the restart).
        await until('Host after the restart', () => {
            const events = state().events;
            return events.length > placeholder && events[events.length - 1].text === '$(device-desktop) Host';
        });
        await waitStatus(page, 'Host');
    },

    // A folder backed by a running podman container; stopping it outside the editor degrades the folder.
    async container(page) {
        await openWorkbench(page);
        // The folder's settings point at a missing CLI first; fixing them reaches sero-ls (no restart).
        await waitStatus(page, 'Host (degraded)');
        await step('fix-settings');
        await waitStatus(page, 'Container', 60000);
        await shotStatusBar(page, 'status-container');
        await tooltip(page, 'Container', 'tooltip-container');

        // Open Logs: sero/logs lists Sero's logs; an existing one opens in an editor.
        await runCommand(page, 'Sero: Open Logs');
        await pick(page, 'sero-vite.log');
        await until('the vite log in an editor', () => {
            const s = state();
            return s && s.activeEditor && s.activeEditor.uri.endsWith('/sero-vite.log');
        });
        await shot(page, 'open-logs-vite');

        // Open Terminal: sero/resolveTerminal gives a shell inside the container at the mapped folder.
        await runCommand(page, 'Sero: Open Terminal');
        const terminal = page.locator('.terminal-wrapper.active .xterm').first();
        await terminal.waitFor({ state: 'visible', timeout: 30000 });
        await terminal.click();
        await page.keyboard.type('pwd > where.txt');
        await page.keyboard.press('Enter');
        await step('check-terminal');
        await shot(page, 'terminal-container');

        await step('stop-container');
        await waitStatus(page, 'Host (degraded)', 60000);
        await shotStatusBar(page, 'status-container-stopped');
        await tooltip(page, 'container-not-running', 'tooltip-container-stopped');
    },

    // sero.* changes in the folder's settings reach the running sero-ls without a restart.
    async settings(page) {
        await openWorkbench(page);
        await waitStatus(page, 'Host');
        await openFile(page, 'main.py');
        await step('change-settings');
        await step('check-applied');
        await waitStatus(page, 'Host');
        await shotStatusBar(page, 'status-settings-applied');
    },

    // No sero-ls anywhere: the indicator and a notification say so, with the install command.
    async missing(page) {
        await openWorkbench(page);
        await waitStatus(page, 'Sero: not installed');
        const toast = page.locator('.notifications-toasts .notification-list-item')
            .filter({ hasText: 'pipx install sero-ls' }).first();
        await toast.waitFor({ state: 'visible', timeout: 30000 });
        for (const button of ['Copy Install Command', 'Open Settings']) {
            await toast.locator('.monaco-button', { hasText: button }).waitFor({ timeout: 5000 });
        }
        await shot(page, 'missing-server');
        log('not installed: status bar and a notification with the install command');
    },

    // Apple's container system is stopped: Start Container System from the palette brings the folder up.
    async system(page) {
        await openWorkbench(page);
        await waitStatus(page, 'Host (degraded)');
        await tooltip(page, 'container-system-not-running', 'tooltip-system-stopped');
        await runCommand(page, 'Sero: Start Container System');
        await waitStatus(page, 'Container');
        await shotStatusBar(page, 'status-system-started');
    },

    // Two folders in one window: the indicator follows the active editor's folder.
    async multiroot(page) {
        await openWorkbench(page);
        await openFile(page, 'alpha.py');
        await waitStatus(page, 'Container', 60000);
        await shotStatusBar(page, 'status-multiroot-alpha');
        await openFile(page, 'beta.py');
        await waitStatus(page, 'Host (degraded)');
        await tooltip(page, 'container-cli-missing', 'tooltip-multiroot-beta');
        // The language status item ({} beside the language mode) carries the same facts.
        const language = page.locator('.workbench-hover, .monaco-hover')
            .filter({ hasText: 'Host (degraded)' }).filter({ hasText: 'container-cli-missing' }).first();
        await until('the language status hover', async () => {
            await page.mouse.move(700, 300);
            await page.locator('[id="status.languageStatus"]').hover();
            return language.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false);
        }, 30000);
        await shot(page, 'language-status-multiroot-beta');
        // VS Code's Severity.Warning is 2: the item is flagged, not just informative.
        await language.locator('.severity.sev2').waitFor({ state: 'attached', timeout: 5000 });
        await page.mouse.move(700, 300);
        log('language status item: Host (degraded), container-cli-missing, warning severity');
        await openFile(page, 'alpha.py');
        await waitStatus(page, 'Container');
    },

    // Go to definition on os.path in a container-backed folder opens the container's stdlib file.
    async definition(page) {
        await openWorkbench(page);
        await waitStatus(page, 'Container', 60000);
        await openFile(page, 'main.py');
        await page.keyboard.press('Control+G');
        await quickInput(page, ':2:5');
        await page.keyboard.press('Enter');
        // pylsp may still be starting in the container: ask again every few seconds until the deadline.
        const isContainerEditor = () => {
            const s = state();
            return Boolean(s && s.activeEditor && s.activeEditor.uri.startsWith('sero-container:'));
        };
        await until('a sero-container: editor after Go to Definition', async () => {
            await page.keyboard.press('F12');
            log('Go to Definition (F12)');
            return until('the definition', isContainerEditor, 5000).then(() => true, () => false);
        }, 60000);
        const s = state();
        log(`definition opened ${s.activeEditor.uri} (${s.activeEditor.languageId}, ${s.activeEditor.lineCount} lines)`);
        if (s.activeEditor.languageId !== 'python' || s.activeEditor.lineCount < 20) {
            throw new Error(`expected Python content, got ${JSON.stringify(s.activeEditor)}`);
        }
        const mode = await page.locator('[id="status.editor.mode"]').textContent();
        if (!mode.includes('Python')) {
            throw new Error(`language mode shows ${mode}`);
        }
        // The rendered lines (Monaco writes spaces as U+00A0) show real Python source.
        const text = (await page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
        if (!/^(import|from|def) \w/m.test(text)) {
            throw new Error(`editor shows no Python source: ${text.slice(0, 200)}`);
        }
        console.log(`RESULT ${JSON.stringify(s.activeEditor)}`);
        await shot(page, 'definition-container-file');

        // A module that exists only inside the container: its text can only come from there.
        await openFile(page, 'main.py');
        await page.keyboard.press('Control+G');
        await quickInput(page, ':4:20');
        await page.keyboard.press('Enter');
        await page.keyboard.press('F12');
        await until('the container-only module', () => {
            const t = state();
            return t && t.activeEditor && /^sero-container:.*\/sero_vscode_probe\.py$/.test(t.activeEditor.uri);
        });
        const probe = (await page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
        if (!probe.includes('only inside the container')) {
            throw new Error(`container-only module shows: ${probe.slice(0, 200)}`);
        }
        console.log(`RESULT ${JSON.stringify(state().activeEditor)}`);
        // Requests from that document go back to the container's pylsp: hover on `where`.
        const hover = page.locator('.monaco-hover').filter({ hasText: 'where' }).first();
        await until('a hover inside the container-only module', async () => {
            await page.keyboard.press('Control+K');
            await page.keyboard.press('Control+I');
            return hover.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false);
        });
        await shot(page, 'definition-container-only-module');
    },

    // A cloned folder whose .sero/config.toml names a server command: nothing runs (pytest checks
    // the marker), a Warning on the file; the palette action trusts it and the server starts.
    async trust(page) {
        await openWorkbench(page);
        await waitProblems(page, 'the untrusted-config warning',
            (rows) => rows.some((r) => r.includes('untrusted-config')));
        await shot(page, 'problems-untrusted');
        await until('the status says untrusted', () => {
            const s = state();
            return s && s.folders[0] && s.folders[0].trust && s.folders[0].trust.state === 'untrusted';
        });
        await step('check-nothing-ran');
        await runCommand(page, "Sero: Trust this folder's sero config");
        const dialog = page.locator('.monaco-dialog-box');
        await dialog.waitFor({ state: 'visible', timeout: 15000 });
        const text = await dialog.textContent();
        const trust = state().folders[0].trust;
        for (const needle of ['servers.x.command', trust.sha256]) {
            if (!text.includes(needle)) {
                throw new Error(`the dialog does not name ${needle}: ${text}`);
            }
        }
        await shot(page, 'trust-dialog', dialog);
        await dialog.locator('.monaco-button', { hasText: /^Trust$/ }).click();
        await until('the trusted server running', () => {
            const f = state().folders[0];
            return f.trust && f.trust.state === 'trusted' && f.servers.some((v) => v.id === 'x' && v.state === 'running');
        });
        await waitProblems(page, 'no untrusted-config warning', (rows) => !rows.some((r) => r.includes('untrusted-config')));
        log('trusted from the palette: the server runs, the warning is gone');
    },
};

(async () => {
    const scenario = scenarios[process.argv[2]];
    if (!scenario || !CS_URL || !STATE_FILE) {
        console.error(`usage: CS_URL=.. STATE_FILE=.. OUT_DIR=.. node driver.js ${Object.keys(scenarios).join('|')}`);
        process.exit(2);
    }
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (e) => log(`[pageerror] ${String(e).slice(0, 200)}`));
    try {
        await scenario(page);
        console.log('PASS');
    } catch (e) {
        console.log(`FAIL ${e.stack || e}`);
        await page.screenshot({ path: path.join(OUT_DIR, `${process.argv[2]}-failure.png`) }).catch(() => undefined);
        process.exitCode = 1;
    } finally {
        await browser.close();
        stdinLines.return?.();
        process.stdin.destroy();
    }
})();
