package mechanism

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtp-go/zmtp/frame"
)

// Sessions recorded between these handshakes and libzmq 4.3.4 (through
// pyzmq), replayed here without libzmq. Our side used the keys and random
// seeds below, so it sends the same bytes again and the recorded answers,
// which depend on them, stay valid. The keys are libzmq-generated pairs:
// the server's is TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1, the client's
// r[q.F)A4Q^dR^w5YwPEbt+$EUX[W5%cT1(}e!Cio. Command bodies are in hex.
const (
	libzmqServerSecret = "c71g5!weyRY!pZrH4zhA]txN}Ob<S]T:r1iT!2Vz"
	libzmqServerPublic = "TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1"
	libzmqClientSecret = "y^7@j*-<AhGS@d]Scbu0&.C)/C2NjrI.la$5Qb*R"
	libzmqClientPublic = "r[q.F)A4Q^dR^w5YwPEbt+$EUX[W5%cT1(}e!Cio"
)

// Our CURVE client (DEALER, Identity "gopeer", Rand seed 10) and a libzmq
// ROUTER server, which then sent the message "from libzmq".
var libzmqServerSession = struct {
	hello, welcome, initiate, ready, message string
}{
	hello: "0548454c4c4f010000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000a74dd39bafe127a4ff13a2f34bcca9f9" +
		"b7170b98cb8e9bb3f953dc1d78416b0200000000000000014a17070fe1a9467df6ed6cc813bc7872b2a634bdc270d202" +
		"0210d4d284555b062d1a05087a52bd3aacce4cf8279909d742082704feea1d8e93e1803d12d6c1fbae6c5ebca211984d" +
		"f465a9044d570cab",
	welcome: "0757454c434f4d45aed57d7dc805756b770894de18209b553a891c76b02035562a393bc519eb81b89a87505172759f15" +
		"bbb428d69583fd48b8bbb5264af2074c36badea631f759b300433023e4663703c85952d1a6b49f33eba2186509517609" +
		"061ef51b5437b30b35076ad98f6e5d17a1e4193faa3bc893687209102c3f2e1b96801acaa60566e4e0e03f23153e38e0" +
		"b8eb7091505313af060d10c80f7d5a38c56944d5254c71c3",
	initiate: "08494e49544941544508fc149815e0463d81a3d02f34213790e0a610830da10aec13eb3694186cf443ab4bb8c48161f4" +
		"212e73dbab927072a44e20c36f166d30c2964a2e6a637dc09371149cd9126a418aa4a99d4551211ca6db9b025af87b50" +
		"ae3f3b13dc474695500000000000000002897b5f0ecbcc2c3fe5c27a72b0b2ebb4d97006548948d35c3b9d2ce6e8c05e" +
		"1544e6b6fe2a9dc3d5263fed5b5619dc22b86e1aa03507c2331a157f09eaa5ec9c55a63d1aef8557fd7c560f976153d8" +
		"178461ff52a8edfa2a963a06fb47a09730d36e955660d58ecc7ee69b94eea2e3b800f83c921d8300ce3353453c40ae53" +
		"827cb08582dbe2a4d9a7ae34cdbf9c13c3c7cfbca54fff9176553287f43eea42ccf5009461b3684fe88f95d02e424ec4" +
		"d4a6db9574d756f14ed7",
	ready: "055245414459000000000000000128d44a32a476f2c67be1a9d486e56fc6b8583870c4e22e6a38f3377afff3ab71ee7a" +
		"34b62868448fd9e392cde0d1e558052f8b",
	message: "074d45535341474500000000000000021ff81dd32146565726cf1ecf9d4c3f733958c204f15434afae0e8ba4",
}

// A libzmq DEALER client (routing id "pyclient") and our CURVE server
// (ROUTER, Identity "gopeer", Rand seed 11); the client then sent the
// two-part message "hi", "there".
var libzmqClientSession = struct {
	hello, welcome, initiate, ready string
	messages                        [2]string
}{
	hello: "0548454c4c4f010000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
		"00000000000000000000000000000000000000000000000000000000000000000f08c82cecf33c76ddbbffe61370d2b0" +
		"25ad015e3376dc089b389e47791e08340000000000000001b5c704d94a894a7b010307dc7023ef6bcc67f1c8bb8feec4" +
		"ac95507a359e579dcadcd30ea1f581b8bcfd18c01f80ecb82f54bd0b64578bdd0a0d72dcd013127f09f89fc4198d0fff" +
		"5608dcf88c734b16",
	welcome: "0757454c434f4d4500836c9692b71d4c1a1c7298702a9f3247d05448385f49c98c2c3885e70928e97500600d79a87de1" +
		"d9214fca2779e54e16b5257ce493af7553c053dbfcc4551548928c9b9be94b4fdb488273f7d81629af5ebaa1883b9953" +
		"d5899baab4b9d6d9d6a3788ee647dbe5f14c00049aef790ebea64de976f01ff20ea1aadd09a9190885ad165c35b3a4f0" +
		"ac7c0679c890714d6f5a6cfa4d0f065c2ef96ee8c1058a79",
	initiate: "08494e49544941544502f233e725105866913e274523d9a3fc67eb8c8ee69afdc010b056fed5e489cd98d90e573809e4" +
		"be3a876a26c57d2658b91ec509a1023f8b7cdb43127a521d430f274f7fcdfb4e6cca2a81a7ec191b232f9d2bda4b61d6" +
		"84a6140f4a1eda5a6500000000000000029fba782a0878d86f3e5a4f51d632b0cadf6c8127b6847580e075e8295c8746" +
		"28ee1631208a6e1ee63a65dc91e2ff555df9ba6e0bd3e424ef103fc0c5e5b6fe8a561ef0c0bfb69573758c784ef42799" +
		"2ffb8853d01c2e81d45f03e1f7fb11531146dbc2a7bae456c2a051527a52b8f710b3b0d6c6e1c6e62051ca3487104214" +
		"33ff1cb7da5847044ed87bd6f2006459c3992c97b5fa9c642d4f4a3c5fe941b8d3a17cb926be362c559b2177acfa9109" +
		"274055d75b3676c85398b884",
	ready: "0552454144590000000000000001bb96b72366c74af15f0750f89e01d5165fbb27ca24a22ad18000eda83a8ff571656c" +
		"30c9bdcf43f35d800825d1638acecba482a2bbc6da1263",
	messages: [2]string{
		"074d4553534147450000000000000003dfa07176bd8047dc5cf19cdebf2e6937f32446",
		"074d45535341474500000000000000048ee6207ddedc931c5b63c41dd2301dd8e45c60803db9",
	},
}

// unhex decodes a recorded body.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordedCommand parses a recorded command body.
func recordedCommand(t *testing.T, s string) frame.Command {
	t.Helper()
	cmd, err := frame.ParseCommand(unhex(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

func mustKey(t *testing.T, s string) [32]byte {
	t.Helper()
	k, err := ParseCurveKey([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Our client against a recorded libzmq server.
func TestCurveReplayLibzmqServer(t *testing.T) {
	rec := libzmqServerSession
	m := Curve{SecretKey: mustKey(t, libzmqClientSecret), ServerKey: mustKey(t, libzmqServerPublic),
		Rand: rand.NewChaCha8([32]byte{10})}
	hs, err := m.NewHandshake(Params{SocketType: Dealer, Identity: []byte("gopeer")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := hs.Start()
	if err != nil || len(out) != 1 || !bytes.Equal(out[0].AppendBody(nil), unhex(t, rec.hello)) {
		t.Fatalf("HELLO differs from the recording: %v", err)
	}
	out, err = hs.Handle(context.Background(), recordedCommand(t, rec.welcome))
	if err != nil || len(out) != 1 || !bytes.Equal(out[0].AppendBody(nil), unhex(t, rec.initiate)) {
		t.Fatalf("INITIATE differs from the recording: %v", err)
	}
	if out, err = hs.Handle(context.Background(), recordedCommand(t, rec.ready)); err != nil || out != nil || !hs.Done() {
		t.Fatalf("libzmq's READY: %v, %v", out, err)
	}
	want := frame.Metadata{{Name: "Socket-Type", Value: []byte("ROUTER")}, {Name: "Identity", Value: []byte{}}}
	if diff := cmp.Diff(want, hs.PeerMetadata()); diff != "" {
		t.Errorf("PeerMetadata (-want +got):\n%s", diff)
	}
	// libzmq sends MESSAGE in a frame with flags 0; the body is recorded.
	flags, body, err := hs.Cipher().Open(recordedCommand(t, rec.message).Data)
	if err != nil || flags != 0 || string(body) != "from libzmq" {
		t.Errorf("libzmq's MESSAGE: %#x %q %v", flags, body, err)
	}
}

// Our server against a recorded libzmq client.
func TestCurveReplayLibzmqClient(t *testing.T) {
	rec := libzmqClientSession
	auth := &recorder{resp: ZAPResponse{StatusCode: 200, UserID: "pyclient"}}
	m := Curve{Server: true, SecretKey: mustKey(t, libzmqServerSecret), Authenticator: auth,
		Rand: rand.NewChaCha8([32]byte{11})}
	hs, err := m.NewHandshake(Params{SocketType: Router, Identity: []byte("gopeer")})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := hs.Start(); err != nil || out != nil {
		t.Fatal(out, err)
	}
	out, err := hs.Handle(context.Background(), recordedCommand(t, rec.hello))
	if err != nil || len(out) != 1 || !bytes.Equal(out[0].AppendBody(nil), unhex(t, rec.welcome)) {
		t.Fatalf("WELCOME differs from the recording: %v", err)
	}
	out, err = hs.Handle(context.Background(), recordedCommand(t, rec.initiate))
	if err != nil || len(out) != 1 || !bytes.Equal(out[0].AppendBody(nil), unhex(t, rec.ready)) || !hs.Done() {
		t.Fatalf("READY differs from the recording: %v", err)
	}
	client := mustKey(t, libzmqClientPublic)
	if !bytes.Equal(auth.last.Credentials[0], client[:]) || string(auth.last.RoutingID) != "pyclient" {
		t.Errorf("ZAP request %v for key %x", auth.last, auth.last.Credentials[0])
	}
	want := frame.Metadata{
		{Name: "User-Id", Value: []byte("pyclient")},
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "Identity", Value: []byte("pyclient")},
	}
	if diff := cmp.Diff(want, hs.PeerMetadata()); diff != "" {
		t.Errorf("PeerMetadata (-want +got):\n%s", diff)
	}
	for i, want := range []struct {
		flags byte
		body  string
	}{{frame.FlagMore, "hi"}, {0, "there"}} {
		flags, body, err := hs.Cipher().Open(recordedCommand(t, rec.messages[i]).Data)
		if err != nil || flags != want.flags || string(body) != want.body {
			t.Errorf("libzmq's MESSAGE %d: %#x %q %v", i, flags, body, err)
		}
	}
}
