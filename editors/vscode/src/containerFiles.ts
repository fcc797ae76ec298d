// Read-only documents for `sero-container://<container>/<path>`: files that exist only in a container.
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import type { SeroClient } from './client';
import { containerFile, textDocumentContent } from './protocol';

const METHOD_NOT_FOUND = -32601;

export class ContainerFiles implements vscode.TextDocumentContentProvider {
    private readonly changed = new vscode.EventEmitter<vscode.Uri>();
    readonly onDidChange = this.changed.event;

    constructor(
        private readonly sero: SeroClient,
        private readonly output: vscode.LogOutputChannel,
    ) {}

    async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
        const client = await this.sero.ready();
        const params = { uri: client.code2ProtocolConverter.asUri(uri) };
        try {
            return (await client.sendRequest(containerFile, params, token)).text;
        } catch (e) {
            if (!(e instanceof ResponseError && e.code === METHOD_NOT_FOUND)) {
                this.output.error(`sero/containerFile ${params.uri}: ${String(e)}`);
                throw e;
            }
        }
        return (await client.sendRequest(textDocumentContent, params, token)).text;
    }

    /** After a restart the container may hold other content: ask again for open documents. */
    refreshOpen(scheme: string): void {
        for (const doc of vscode.workspace.textDocuments) {
            if (doc.uri.scheme === scheme) {
                this.changed.fire(doc.uri);
            }
        }
    }

    dispose(): void {
        this.changed.dispose();
    }
}
