#!/usr/bin/env node
// node_sign: an Echo request signed by node-soap's WSSecurityCert (xml-crypto underneath),
// captured by an HTTP client that never sends it, printed on stdout.
// Needs NODE_PATH=test/integration/node/node_modules (node-soap from its package.json).
//
// Usage: node node_sign.js '{"wsdl": ".../echo.wsdl", "key": "client-key.pem",
//          "cert": "client.pem", "soap12": false, "message": "hi",
//          "options": {WSSecurityCert options: hasTimeStamp, signatureAlgorithm,
//                      digestAlgorithm, additionalReferences, signerOptions, ...}}'
// node-soap has no WS-Security encryption: WSSecurityCert signs only.
'use strict';

const fs = require('fs');
const soap = require('soap');

// node-soap hands the finished request (after the security's postProcess) to its
// HTTP client: keep it and answer with an error, so nothing leaves the process.
class CapturingHttpClient {
	request(url, data, callback) {
		this.captured = data;
		callback(new Error('captured, not sent'));
	}
}

// node-soap 1.6.1 writes the soap:Header only when the security's toXML() returns
// something, and WSSecurityCert has none (vpulim/node-soap#1434, #1487): its postProcess then
// finds no </soap:Header> to fill. toXML() is only that test (a security with postProcess
// never has its toXML() output written), so answering it restores 1.1's envelope.
class WSSecurityCert extends soap.WSSecurityCert {
	toXML() {
		return 'postProcess';
	}
}

async function main() {
	const args = JSON.parse(process.argv[2] || '{}');
	const http = new CapturingHttpClient();
	const client = await soap.createClientAsync(args.wsdl, {
		forceSoap12Headers: !!args.soap12,
		disableCache: true,
		httpClient: http,
	});
	client.setSecurity(new WSSecurityCert(fs.readFileSync(args.key),
		fs.readFileSync(args.cert), args.password || '', args.options || {}));
	const port = client.EchoService[args.soap12 ? 'EchoSoap12Port' : 'EchoSoap11Port'];
	await new Promise((resolve) => {
		port.Echo({ message: args.message || 'hello from node-soap' }, () => resolve());
	});
	if (typeof http.captured !== 'string') {
		throw new Error('node-soap sent nothing');
	}
	process.stdout.write(http.captured);
}

main().catch((err) => {
	process.stderr.write(`node_sign: ${err && err.stack ? err.stack : err}\n`);
	process.exit(1);
});
