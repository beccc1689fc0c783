// Package auth provides CURVE certificates in czmq's zcert format and an
// authenticator with the policies of czmq's zauth and pyzmq's zmq.auth.
//
// Certificates: NewCertificate makes a key pair, Save writes it as a
// public certificate file and a secret one (the same name with "_secret"
// appended), LoadCertificate reads them back, LoadCertificates reads a
// directory of public certificates. The files are ZPL text (ZeroMQ RFC 4)
// with a "metadata" section and a "curve" section holding "public-key" and
// "secret-key" in Z85 (ZeroMQ RFC 32); pyzmq's zmq.auth.load_certificate
// reads ours and LoadCertificate reads those of
// zmq.auth.create_certificates.
//
// Authentication: an Authenticator is a mechanism.Authenticator with IP
// allow and deny lists, PLAIN password files and CURVE certificate
// directories that are read again when they change. Give it to a server's
// mechanism, or serve it over ZAP (RFC 27) with StartZAP.
//
// The Guide's Ironhouse (CURVE with both sides authenticated) in a few
// lines, server side:
//
//	server, _ := auth.LoadCertificate("private_keys/server.key_secret")
//	a := &auth.Authenticator{}
//	a.Allow("127.0.0.1")
//	a.SetCurveDirectory("public_keys")
//	s, _ := zmtp.NewSocket(zmtp.Push, zmtp.Options{Mechanism: server.CurveServer(a)})
//
// and client side:
//
//	client, _ := auth.LoadCertificate("private_keys/client.key_secret")
//	server, _ := auth.LoadCertificate("public_keys/server.key")
//	c, _ := zmtp.NewSocket(zmtp.Pull, zmtp.Options{Mechanism: client.CurveClient(server)})
package auth
