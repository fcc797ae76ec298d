// How a FolderStatus reads to a person: status bar text, icon, tooltip. Pure functions.
import type { FolderStatus } from './protocol';

export interface Presentation {
    /** "Container", "Host" or "Host (degraded)". */
    label: string;
    icon: string;
    /** Plain one-liner (the message and reason). */
    detail: string;
    /** Markdown for the tooltip. */
    tooltip: string;
    warning: boolean;
}

const CAPABILITY_NAMES: Record<string, string> = {
    'workspace-exec': 'containerized workspace execution',
    'language-servers': 'containerized tooling and language servers',
    'browser-automation': 'browser automation',
    'managed-preview': 'managed preview URLs',
    'container-networking': 'container networking',
    isolation: 'container isolation',
    onboarding: 'onboarding',
    'agent-chat': 'agent chat',
    'file-editing': 'file editing',
    'host-shell': 'host shell',
    'host-dev-server': 'host dev server',
};

export function label(status: FolderStatus): string {
    if (status.mode === 'container') {
        return 'Container';
    }
    return status.degraded ? 'Host (degraded)' : 'Host';
}

export function icon(status: FolderStatus): string {
    if (status.mode === 'container') {
        return '$(vm-running)';
    }
    return status.degraded ? '$(warning)' : '$(device-desktop)';
}

export function unavailable(status: FolderStatus): string[] {
    return status.capabilities.filter((c) => !c.available).map((c) => c.id);
}

function code(text: string): string {
    return '`' + text.replace(/`/g, "'") + '`';
}

export function present(status: FolderStatus): Presentation {
    const name = label(status);
    const lines: string[] = [];
    lines.push(`**Sero: ${name}** (folder ${code(status.name)}, requested ${code(status.requested)})`, '');
    lines.push(status.message, '');
    if (status.reason) {
        lines.push(`Reason: ${code(status.reason)}`, '');
    }
    const missing = unavailable(status);
    if (missing.length > 0) {
        const names = missing.map((id) => `${code(id)} (${CAPABILITY_NAMES[id] ?? id})`);
        lines.push(`Unavailable: ${names.join(', ')}`, '');
    }
    if (status.remedy.length > 0) {
        lines.push('Remedy:', '');
        for (const r of status.remedy) {
            lines.push(`* ${code(r)}`);
        }
        lines.push('');
    }
    const rt = status.runtime;
    if (rt?.backend) {
        const container = rt.container ? `, container ${code(rt.container.id)} (${rt.container.state})` : '';
        lines.push(`Backend: ${code(rt.backend)}, system ${rt.system}${container}`, '');
    }
    if (status.servers.length > 0) {
        const servers = status.servers.map((s) => `${s.id} (${s.mode ?? '?'}, ${s.state})`);
        lines.push(`Language servers: ${servers.join(', ')}`, '');
    }
    if (status.trust?.state === 'untrusted') {
        lines.push(`Untrusted config: ignored ${status.trust.ignored.map(code).join(', ')} · `
            + '[Trust this folder\'s sero config](command:sero.trustFolderUi)', '');
    }
    lines.push('[Switch Runtime](command:sero.switchRuntime) · [Refresh](command:sero.refreshRuntimeStatus) · '
        + '[Doctor Report](command:sero.showDoctorReport) · [Open Logs](command:sero.openLogs)');
    const detail = status.reason ? `${status.message} (${status.reason})` : status.message;
    return { label: name, icon: icon(status), detail, tooltip: lines.join('\n'), warning: status.degraded };
}

/** A file URI as a path (`file:///a%20b` -> `/a b`); other URIs unchanged. */
export function displayPath(uri: string): string {
    if (!uri.startsWith('file://')) {
        return uri;
    }
    try {
        return decodeURIComponent(new URL(uri).pathname);
    } catch {
        return uri;
    }
}

/** A plain-text report of every folder, like `sero-ls doctor`. */
export function doctorReport(folders: FolderStatus[]): string {
    const out: string[] = ['# Sero doctor report', ''];
    for (const s of folders) {
        out.push(`## ${s.name}: ${label(s)}`, '');
        out.push(`* folder: ${displayPath(s.uri)}`);
        out.push(`* requested: ${s.requested}, mode: ${s.mode}, degraded: ${s.degraded}`);
        out.push(`* reason: ${s.reason ?? '-'}`);
        out.push(`* message: ${s.message}`);
        const rt = s.runtime;
        if (rt) {
            out.push(`* backend: ${rt.backend ?? '-'} (${rt.cli ?? 'no CLI'}), system: ${rt.system}`);
            if (rt.container) {
                out.push(`* container: ${rt.container.id} (${rt.container.state}), image ${rt.container.image ?? '-'}`
                    + `, ip ${rt.container.ip ?? '-'}`);
            }
            for (const m of rt.mounts) {
                out.push(`* mount: ${m.host} -> ${m.container}${m.readOnly ? ' (read-only)' : ''}`);
            }
        }
        for (const r of s.remedy) {
            out.push(`* remedy: \`${r}\``);
        }
        if (s.trust) {
            out.push(`* trust: ${s.trust.state} (${s.trust.config}, sha256 ${s.trust.sha256})`
                + (s.trust.ignored.length > 0 ? `, ignored: ${s.trust.ignored.join(', ')}` : ''));
        }
        out.push('', '| capability | available | reason |', '| --- | --- | --- |');
        for (const c of s.capabilities) {
            out.push(`| ${c.id} | ${c.available ? 'yes' : 'no'} | ${c.reason ?? ''} |`);
        }
        if (s.servers.length > 0) {
            out.push('', '| server | mode | state | restarts | note |', '| --- | --- | --- | --- | --- |');
            for (const v of s.servers) {
                out.push(`| ${v.id} | ${v.mode ?? '-'} | ${v.state} | ${v.restarts} | ${v.message ?? v.reason ?? ''} |`);
            }
        }
        out.push(`\nchecked at ${s.checkedAt ?? '-'}`, '');
    }
    return out.join('\n');
}
