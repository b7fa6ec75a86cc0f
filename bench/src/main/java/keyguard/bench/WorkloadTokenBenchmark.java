package keyguard.bench;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.TimeUnit;
import keyguard.identity.WorkloadIdentity;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Verifying a workload's JWT on the data plane with the issuer's keys cached
 * ({@code WorkloadIdentity.verify}): parse, algorithm and issuer checks, signature, claims,
 * mapping to a policy.
 *
 * <ul>
 *   <li>{@code rs256} / {@code es256}: a token never seen before (12,000 distinct tokens in
 *       turn, more than the 10,000 remembered, so every call verifies the signature).</li>
 *   <li>{@code remembered}: the same token again, as a workload reusing its token for its
 *       lifetime sends it: a map lookup and the expiry check.</li>
 *   <li>{@code jdkRs256} / {@code jdkEs256}: the floor: the JDK's {@code Signature.verify} of
 *       one token's signing input, nothing else (no parsing, no claims).</li>
 * </ul>
 * Compare with {@code KeyLookupBenchmark.hit} (a {@code kg-} key) in the same run.
 *
 * <pre>bench/jmh.sh 'WorkloadTokenBenchmark|KeyLookupBenchmark.hit' -prof gc</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class WorkloadTokenBenchmark {
    static final int TOKENS = 12_000;
    private Path dir;
    private WorkloadIdentity identity;
    private String[] rsTokens;
    private String[] esTokens;
    private String reused;
    private int next;
    private java.security.PublicKey rsaPublic;
    private java.security.PublicKey ecPublic;
    private byte[] rsInput;
    private byte[] rsSignature;
    private byte[] esInput;
    private byte[] esSignatureDer;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        dir = BenchFiles.tempDir("keyguard-workload-bench");
        RSAKey rsa = new RSAKeyGenerator(2048).keyID("rsa").generate();
        ECKey ec = new ECKeyGenerator(Curve.P_256).keyID("ec").generate();
        Files.writeString(dir.resolve("jwks.json"), new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK())).toString());
        Files.writeString(dir.resolve("workloads.json"), """
                {"issuers":[{"name":"k8s","issuer":"https://k8s.example","jwks_file":"jwks.json","audiences":["keyguard"],
                  "map":[{"subject":"system:serviceaccount:*","policy":"bench","owner":"group:platform"}]}]}""");
        identity = WorkloadIdentity.load(dir.resolve("workloads.json"), Clock.systemUTC());
        rsTokens = new String[TOKENS];
        esTokens = new String[TOKENS];
        RSASSASigner rs = new RSASSASigner(rsa);
        ECDSASigner es = new ECDSASigner(ec);
        for (int i = 0; i < TOKENS; i++) {
            JWTClaimsSet c = new JWTClaimsSet.Builder().issuer("https://k8s.example").subject("system:serviceaccount:ns:sa-" + (i % 100))
                    .audience("keyguard").jwtID("t" + i).expirationTime(Date.from(Instant.now().plusSeconds(3600))).build();
            SignedJWT r = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa").build(), c);
            r.sign(rs);
            rsTokens[i] = r.serialize();
            SignedJWT e = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("ec").build(), c);
            e.sign(es);
            esTokens[i] = e.serialize();
        }
        reused = rsTokens[0];
        rsaPublic = rsa.toRSAPublicKey();
        ecPublic = ec.toECPublicKey();
        SignedJWT r0 = SignedJWT.parse(rsTokens[0]);
        rsInput = r0.getSigningInput();
        rsSignature = r0.getSignature().decode();
        SignedJWT e0 = SignedJWT.parse(esTokens[0]);
        esInput = e0.getSigningInput();
        esSignatureDer = com.nimbusds.jose.crypto.impl.ECDSA.transcodeSignatureToDER(e0.getSignature().decode());
        if (!(identity.verify(reused) instanceof WorkloadIdentity.Workload)) throw new IllegalStateException("the bench token does not verify");
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        identity.close();
        BenchFiles.delete(dir);
    }

    @Benchmark
    public Object rs256() {
        next = next + 1 == TOKENS ? 0 : next + 1;
        return identity.verify(rsTokens[next]);
    }

    @Benchmark
    public Object es256() {
        next = next + 1 == TOKENS ? 0 : next + 1;
        return identity.verify(esTokens[next]);
    }

    @Benchmark
    public boolean jdkRs256() throws Exception {
        java.security.Signature s = java.security.Signature.getInstance("SHA256withRSA");
        s.initVerify(rsaPublic);
        s.update(rsInput);
        return s.verify(rsSignature);
    }

    @Benchmark
    public boolean jdkEs256() throws Exception {
        java.security.Signature s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initVerify(ecPublic);
        s.update(esInput);
        return s.verify(esSignatureDer);
    }

    @Benchmark
    public Object remembered() {
        return identity.verify(reused);
    }
}
