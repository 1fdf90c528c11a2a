// Wss4jSign: secures a SOAP envelope with Apache WSS4J 1.6's own message API, the code SoapUI
// runs for its outgoing WS-Security configurations, and writes the result to stdout.
// Test tool only (compiled by the integration tests with javac against Debian's jars).
//
// Usage: java Wss4jSign --actions Timestamp,UsernameToken,Signature,Encrypt [options] [FILE]
//   The actions run in the order given, as in a WSS4J handler's action list (so
//   "Signature,Encrypt" signs then encrypts, "Encrypt,Signature" the reverse). FILE or stdin.
//   --keystore F.p12 --alias A --storepass P   signer's PKCS#12 (or --storetype jks)
//   --sig-alg rsa-sha256|rsa-sha1|ecdsa-sha256  --digest sha256|sha1 (default: the sig-alg's)
//   --sig-key-id bst|issuer-serial|ski|thumbprint|x509   the signature's SecurityTokenReference
//   --sign-parts Body,Timestamp,UsernameToken  (default Body, plus Timestamp when present)
//   --ttl SECONDS                              the Timestamp's lifetime (default 300)
//   --user U --password P --password-type text|digest   the UsernameToken
//   --encrypt-cert gateway.pem                 the recipient's certificate (PEM)
//   --enc-alg aes128-cbc|aes256-cbc|aes128-gcm|aes256-gcm   --key-transport rsa-oaep|rsa-1_5
//   --oaep-digest sha1|sha256  --enc-key-id issuer-serial|ski|bst|thumbprint|x509
//   --encrypt-parts Body,UsernameToken  (Body: its content; UsernameToken: the whole element)
// Errors go to stderr with exit status 2 (usage) or 1 (WSS4J refused).

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.components.crypto.Crypto;
import org.apache.ws.security.components.crypto.CryptoFactory;
import org.apache.ws.security.message.WSSecEncrypt;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.WSSecUsernameToken;
import org.w3c.dom.Document;

public final class Wss4jSign {
	private static final Map<String, String> SIG_ALGS = Map.of(
		"rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		"rsa-sha1", WSConstants.RSA_SHA1,
		"ecdsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256");
	private static final Map<String, String> DIGESTS = Map.of(
		"sha256", WSConstants.SHA256, "sha1", WSConstants.SHA1);
	private static final Map<String, Integer> KEY_IDS = Map.of(
		"bst", WSConstants.BST_DIRECT_REFERENCE,
		"issuer-serial", WSConstants.ISSUER_SERIAL,
		"ski", WSConstants.SKI_KEY_IDENTIFIER,
		"thumbprint", WSConstants.THUMBPRINT_IDENTIFIER,
		"x509", WSConstants.X509_KEY_IDENTIFIER);
	private static final Map<String, String> ENC_ALGS = Map.of(
		"aes128-cbc", WSConstants.AES_128, "aes256-cbc", WSConstants.AES_256,
		"aes128-gcm", WSConstants.AES_128_GCM, "aes256-gcm", WSConstants.AES_256_GCM);
	private static final Map<String, String> KEY_TRANSPORTS = Map.of(
		"rsa-oaep", WSConstants.KEYTRANSPORT_RSAOEP, "rsa-1_5", WSConstants.KEYTRANSPORT_RSA15);
	private static final List<String> FLAGS = Arrays.asList("--actions", "--keystore", "--alias",
		"--storepass", "--storetype", "--sig-alg", "--digest", "--sig-key-id", "--sign-parts",
		"--ttl", "--user", "--password", "--password-type", "--encrypt-cert", "--enc-alg",
		"--key-transport", "--oaep-digest", "--enc-key-id", "--encrypt-parts");

	private static final class UsageException extends Exception {
		private static final long serialVersionUID = 1L;

		UsageException(String msg) {
			super(msg);
		}
	}

	private final Map<String, String> opt = new HashMap<>();
	private String inputFile;
	private Crypto crypto;

	public static void main(String[] args) {
		try {
			Wss4jSign w = new Wss4jSign();
			w.parse(args);
			System.out.write(w.run());
			System.out.flush();
		} catch (UsageException e) {
			System.err.println("Wss4jSign: " + e.getMessage());
			System.exit(2);
		} catch (Exception e) {
			System.err.println("Wss4jSign: " + e);
			System.exit(1);
		}
	}

	private void parse(String[] args) throws UsageException {
		for (int i = 0; i < args.length; i++) {
			if (FLAGS.contains(args[i])) {
				if (i + 1 == args.length)
					throw new UsageException(args[i] + " needs a value");
				opt.put(args[i], args[++i]);
			} else if (args[i].startsWith("--") || inputFile != null) {
				throw new UsageException("unknown argument " + args[i]);
			} else {
				inputFile = args[i];
			}
		}
		if (!opt.containsKey("--actions"))
			throw new UsageException("--actions is required");
	}

	private String get(String flag, String dflt) {
		return opt.getOrDefault(flag, dflt);
	}

	private String pick(Map<String, String> table, String flag, String dflt) throws UsageException {
		String v = table.get(get(flag, dflt));
		if (v == null)
			throw new UsageException(flag + ": one of " + table.keySet());
		return v;
	}

	private int keyId(String flag, String dflt) throws UsageException {
		Integer v = KEY_IDS.get(get(flag, dflt));
		if (v == null)
			throw new UsageException(flag + ": one of " + KEY_IDS.keySet());
		return v;
	}

	private byte[] run() throws Exception {
		WSSConfig.init();
		Document doc = readDocument();
		WSSecHeader secHeader = new WSSecHeader();
		secHeader.setMustUnderstand(true);
		secHeader.insertSecurityHeader(doc);
		List<String> actions = Arrays.asList(get("--actions", "").split(","));
		for (String action : actions) {
			switch (action) {
			case "Timestamp":
				WSSecTimestamp ts = new WSSecTimestamp();
				ts.setTimeToLive(Integer.parseInt(get("--ttl", "300")));
				ts.build(doc, secHeader);
				break;
			case "UsernameToken":
				WSSecUsernameToken ut = new WSSecUsernameToken();
				ut.setPasswordType("text".equals(get("--password-type", "digest"))
						? WSConstants.PASSWORD_TEXT : WSConstants.PASSWORD_DIGEST);
				ut.setUserInfo(required("--user"), required("--password"));
				ut.addNonce();
				ut.addCreated();
				ut.build(doc, secHeader);
				break;
			case "Signature":
				sign(doc, secHeader, crypto(), actions);
				break;
			case "Encrypt":
				encrypt(doc, secHeader, crypto());
				break;
			default:
				throw new UsageException("unknown action " + action);
			}
		}
		return serialize(doc);
	}

	private String required(String flag) throws UsageException {
		String v = opt.get(flag);
		if (v == null)
			throw new UsageException(flag + " is required");
		return v;
	}

	// Merlin on the signer's keystore; encryption alone needs no keystore (the recipient's
	// certificate comes from --encrypt-cert) but a Crypto all the same.
	private Crypto crypto() throws Exception {
		if (crypto != null)
			return crypto;
		Properties p = new Properties();
		if (!opt.containsKey("--keystore"))
			return crypto = CryptoFactory.getInstance(p);
		p.setProperty("org.apache.ws.security.crypto.provider",
			"org.apache.ws.security.components.crypto.Merlin");
		p.setProperty("org.apache.ws.security.crypto.merlin.keystore.type",
			get("--storetype", "pkcs12"));
		p.setProperty("org.apache.ws.security.crypto.merlin.keystore.file", required("--keystore"));
		p.setProperty("org.apache.ws.security.crypto.merlin.keystore.password",
			required("--storepass"));
		p.setProperty("org.apache.ws.security.crypto.merlin.keystore.alias", required("--alias"));
		return crypto = CryptoFactory.getInstance(p);
	}

	private void sign(Document doc, WSSecHeader secHeader, Crypto crypto, List<String> actions)
		throws Exception {
		String sigAlg = get("--sig-alg", "rsa-sha256");
		WSSecSignature sig = new WSSecSignature();
		sig.setUserInfo(required("--alias"), required("--storepass"));
		sig.setSignatureAlgorithm(pick(SIG_ALGS, "--sig-alg", "rsa-sha256"));
		sig.setDigestAlgo(pick(DIGESTS, "--digest", sigAlg.equals("rsa-sha1") ? "sha1" : "sha256"));
		sig.setKeyIdentifierType(keyId("--sig-key-id", "bst"));
		String dflt = actions.contains("Timestamp") ? "Body,Timestamp" : "Body";
		sig.setParts(parts(doc, get("--sign-parts", dflt), ""));
		sig.build(doc, crypto, secHeader);
	}

	private void encrypt(Document doc, WSSecHeader secHeader, Crypto crypto) throws Exception {
		WSSecEncrypt enc = new WSSecEncrypt();
		try (InputStream in = new FileInputStream(required("--encrypt-cert"))) {
			CertificateFactory cf = CertificateFactory.getInstance("X.509");
			enc.setUseThisCert((X509Certificate) cf.generateCertificate(in));
		}
		enc.setSymmetricEncAlgorithm(pick(ENC_ALGS, "--enc-alg", "aes128-cbc"));
		enc.setKeyEncAlgo(pick(KEY_TRANSPORTS, "--key-transport", "rsa-oaep"));
		// The OAEP digest (WSS4J 1.6 writes it as ds:DigestMethod inside EncryptionMethod).
		enc.setDigestAlgorithm(pick(DIGESTS, "--oaep-digest", "sha1"));
		enc.setKeyIdentifierType(keyId("--enc-key-id", "issuer-serial"));
		enc.setParts(parts(doc, get("--encrypt-parts", "Body"), "encrypt"));
		enc.build(doc, crypto, secHeader);
	}

	// Parts by name: the Body (its content when encrypting, as WSS4J's default), the
	// Timestamp and the UsernameToken of the Security header (whole elements). The Body is
	// the envelope's, SOAP 1.1 or 1.2.
	private static List<WSEncryptionPart> parts(Document doc, String names, String mode)
		throws UsageException {
		String soapNs = doc.getDocumentElement().getNamespaceURI();
		List<WSEncryptionPart> out = new ArrayList<>();
		for (String name : names.split(",")) {
			switch (name) {
			case "Body":
				out.add(new WSEncryptionPart("Body", soapNs,
					mode.isEmpty() ? "" : "Content"));
				break;
			case "Timestamp":
				out.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS,
					mode.isEmpty() ? "" : "Element"));
				break;
			case "UsernameToken":
				out.add(new WSEncryptionPart("UsernameToken", WSConstants.WSSE_NS,
					mode.isEmpty() ? "" : "Element"));
				break;
			default:
				throw new UsageException("unknown part " + name);
			}
		}
		return out;
	}

	private Document readDocument() throws Exception {
		DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
		f.setNamespaceAware(true);
		f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
		try (InputStream in = inputFile == null ? System.in : new FileInputStream(inputFile)) {
			return f.newDocumentBuilder().parse(in);
		}
	}

	// No indentation: the output must be the bytes that were signed.
	private static byte[] serialize(Document doc) throws Exception {
		Transformer t = TransformerFactory.newInstance().newTransformer();
		t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
		t.setOutputProperty(OutputKeys.INDENT, "no");
		ByteArrayOutputStream out = new ByteArrayOutputStream();
		t.transform(new DOMSource(doc), new StreamResult(out));
		return out.toByteArray();
	}
}
