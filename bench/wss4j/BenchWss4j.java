/*
 * bench/validate's Apache WSS4J side: parses and validates the same
 * pre-generated requests as bench/validate.c, in-process, on one thread.
 *
 *   java -cp wss4j.jar:xmlsec.jar:commons-logging.jar:. BenchWss4j FILE USERS [WARMUP] [ROUNDS]
 *
 * Per message: a namespace-aware DOM parse (the JDK's parser, as CXF does),
 * WSSecurityUtil.getSecurityHeader, and WSSecurityEngine.processSecurityHeader
 * with WSS4J's own UsernameTokenValidator (PasswordDigest recomputed,
 * PasswordText compared), a CallbackHandler that gives each user's password
 * from a map, Created checked against utTTL 300 s / utFutureTTL 60 s (the
 * gateway's defaults) and WSS4J's MemoryReplayCache as the nonce cache.
 * WARMUP passes over the file let the JIT compile the hot path first (each
 * pass with a fresh replay cache, since a second pass would be replays);
 * then ROUNDS timed passes. Every message must pass, else it exits 1.
 *
 * Prints one line per timed round: "messages=N seconds=S per_second=R".
 */
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;

import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.cache.MemoryReplayCache;
import org.apache.ws.security.handler.RequestData;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public final class BenchWss4j {
	private static final class Passwords implements CallbackHandler {
		private final Map<String, String> byUser = new HashMap<>();

		Passwords(int users) {
			for (int i = 0; i < users; i++)
				byUser.put("bench-user-" + i, "bench-secret-" + i);
		}

		@Override
		public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
			for (Callback c : callbacks) {
				if (!(c instanceof WSPasswordCallback))
					throw new UnsupportedCallbackException(c);
				WSPasswordCallback pc = (WSPasswordCallback) c;
				pc.setPassword(byUser.get(pc.getIdentifier()));
			}
		}
	}

	private static int pass(byte[][] messages, DocumentBuilder db, WSSecurityEngine engine,
				WSSConfig config, CallbackHandler cb) throws Exception {
		MemoryReplayCache nonces = new MemoryReplayCache();
		int ok = 0;
		for (byte[] m : messages) {
			Document doc = db.parse(new ByteArrayInputStream(m));
			Element sec = WSSecurityUtil.getSecurityHeader(doc, null);
			RequestData data = new RequestData();
			data.setWssConfig(config);
			data.setCallbackHandler(cb);
			data.setNonceReplayCache(nonces);
			List<?> results = engine.processSecurityHeader(sec, data);
			if (results == null || results.isEmpty())
				throw new IllegalStateException("message " + ok + " produced no result");
			ok++;
		}
		return ok;
	}

	public static void main(String[] args) throws Exception {
		if (args.length < 2) {
			System.err.println("usage: BenchWss4j FILE USERS [WARMUP] [ROUNDS]");
			System.exit(2);
		}
		List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
		byte[][] messages = lines.stream().filter(l -> !l.isEmpty())
			.map(l -> l.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
		int users = Integer.parseInt(args[1]);
		int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 5;
		int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;

		DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
		dbf.setNamespaceAware(true);
		dbf.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
		DocumentBuilder db = dbf.newDocumentBuilder();
		WSSConfig config = WSSConfig.getNewInstance();
		config.setUtTTL(300);
		config.setUtFutureTTL(60);
		WSSecurityEngine engine = new WSSecurityEngine();
		engine.setWssConfig(config);
		CallbackHandler cb = new Passwords(users);

		try {
			for (int i = 0; i < warmup; i++)
				pass(messages, db, engine, config, cb);
			for (int i = 0; i < rounds; i++) {
				long t0 = System.nanoTime();
				int n = pass(messages, db, engine, config, cb);
				double secs = (System.nanoTime() - t0) / 1e9;
				System.out.printf("messages=%d seconds=%.3f per_second=%.0f%n", n, secs, n / secs);
			}
		} catch (Exception e) {
			System.err.println("WSS4J refused a message: " + e);
			System.exit(1);
		}
	}
}
