#!/usr/bin/env node
// node-soap client for the wssgate integration tests.
// Usage: node client.js '{"wsdl": ".../echo.wsdl" or a ?wsdl URL, "endpoint": "http://..." (optional),
//          "user": "alice",
//          "password": "...", "passwordType": "PasswordDigest", "hasTimeStamp": true,
//          "hasNonce": true, "soap12": false, "message": "hi"}'
// Optional WSSecurity options, passed only when given: "mustUnderstand", "hasTokenCreated".
// Optional "service", "ports" and "operation" for a WSDL other than echo.wsdl.
// MTOM: "forceMTOM": true and "attachments": [{mimetype, contentId, name, bodyB64}] become the
// call's options; the answer's attachments come back as "attachments" ({contentId, bodyB64}).
// Prints one JSON object: {ok, status, result, fault, lastRequest, lastRequestHeaders, error}.
'use strict';

const soap = require('soap');

async function main() {
	const args = JSON.parse(process.argv[2] || '{}');
	const out = { ok: false, status: null, result: null, fault: null, lastRequest: null };
	let client;
	try {
		client = await soap.createClientAsync(args.wsdl, {
			forceSoap12Headers: !!args.soap12,
			disableCache: true,
			// (sic): node-soap's name for reading multipart answers.
			parseReponseAttachments: !!args.forceMTOM,
		});
		// Without one, the calls go where the WSDL's address says.
		if (args.endpoint) {
			client.setEndpoint(args.endpoint);
		}
		const options = {
			passwordType: args.passwordType || 'PasswordDigest',
			hasTimeStamp: !!args.hasTimeStamp,
			hasNonce: args.hasNonce !== false,
		};
		for (const key of ['mustUnderstand', 'hasTokenCreated']) {
			if (key in args) {
				options[key] = !!args[key];
			}
		}
		client.setSecurity(new soap.WSSecurity(args.user, args.password, options));
		// The SOAP 1.2 port's binding sets the 1.2 content type and envelope.
		// "service", "ports" ([1.1, 1.2]) and "operation" pick another WSDL's.
		const service = client[args.service || 'EchoService'];
		const ports = args.ports || ['EchoSoap11Port', 'EchoSoap12Port'];
		const port = service[args.soap12 ? ports[1] : ports[0]];
		const callOptions = {};
		if (args.forceMTOM) {
			callOptions.forceMTOM = true;
			callOptions.attachments = (args.attachments || []).map((a) => ({
				mimetype: a.mimetype, contentId: a.contentId, name: a.name,
				body: Buffer.from(a.bodyB64, 'base64'),
			}));
		}
		const [result, , , , mtom] = await new Promise((resolve, reject) => {
			port[args.operation || 'Echo']({ message: args.message || 'hello from node-soap' },
				(err, res, raw, soapHeader, rawRequest, mtomAttachments) => {
					if (err) {
						reject(err);
					} else {
						resolve([res, raw, soapHeader, rawRequest, mtomAttachments]);
					}
				}, callOptions);
		});
		out.ok = true;
		out.status = 200;
		out.result = result;
		if (mtom && mtom.parts) {
			out.attachments = mtom.parts.map((p) => ({
				contentId: p.headers['content-id'] || null,
				bodyB64: Buffer.from(p.body).toString('base64'),
			}));
		}
	} catch (err) {
		out.error = String(err && err.message ? err.message : err);
		if (err && err.response) {
			out.status = err.response.status;
		}
		if (err && err.root && err.root.Envelope && err.root.Envelope.Body) {
			out.fault = err.root.Envelope.Body.Fault || null;
		}
		if (err && err.body) {
			out.body = String(err.body);
		}
	}
	if (client) {
		out.lastRequest = client.lastRequest || null;
		out.lastRequestHeaders = client.lastRequestHeaders || null;
	}
	process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
	process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n');
	process.exit(1);
});
