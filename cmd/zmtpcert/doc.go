// Command zmtpcert makes and inspects CURVE key pairs and certificates in
// czmq's zcert format, the files that pyzmq's zmq.auth and this module's
// auth package read.
//
// Usage:
//
//	zmtpcert keypair
//	zmtpcert generate [-d DIR] [-m NAME=VALUE]... [-f] NAME
//	zmtpcert show [-secret] FILE
//
// keypair prints a new key pair in Z85, the 40-character text that
// libzmq's ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY and ZMQ_CURVE_SERVERKEY
// options take:
//
//	public-key = "Q0p2}z<g?4t)uMy&KL*nj^UI3.HD&RRuA.Eu25H>"
//	secret-key = "?zTxhV#x+C58KCWFbOF^eTQkc9kJrI2{F><onW*8"
//
// generate writes a new certificate as DIR/NAME.key (the public
// certificate, with the metadata) and DIR/NAME.key_secret (both keys, mode
// 0600), the names pyzmq's zmq.auth.create_certificates uses, and prints
// their paths. It refuses to replace existing files unless -f is given.
//
// show prints a certificate's public key and metadata, and whether it
// holds a secret key; the secret key itself only with -secret. For a
// public certificate FILE, a secret certificate FILE_secret beside it is
// read too. A malformed certificate is reported with its line.
//
// The exit status is 0 on success, 1 on failure and 2 for a usage error.
package main
