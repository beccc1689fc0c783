package libzmq

/*
#cgo pkg-config: libzmq
#include <zmq.h>
#include <errno.h>

static int set_int_option(void *s, int option, int value) {
	return zmq_setsockopt(s, option, &value, sizeof value);
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	zmq "github.com/pebbe/zmq4"
)

// libzmq's GSSAPI name-type options (zmq.h), which pebbe/zmq4 does not
// offer.
const (
	optGSSAPIPrincipalNameType        = 90 // ZMQ_GSSAPI_PRINCIPAL_NAMETYPE
	optGSSAPIServicePrincipalNameType = 91 // ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE
)

// GSSAPI name types (ZMQ_GSSAPI_NT_*).
const (
	GSSAPIHostBased         = 0
	GSSAPIUserName          = 1
	GSSAPIKerberosPrincipal = 2
)

// SetGSSAPINameTypes sets ZMQ_GSSAPI_PRINCIPAL_NAMETYPE and
// ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE on s.
func SetGSSAPINameTypes(s *zmq.Socket, principal, service int) error {
	h := rawSocket(s)
	for _, o := range []struct{ opt, v int }{
		{optGSSAPIPrincipalNameType, principal},
		{optGSSAPIServicePrincipalNameType, service},
	} {
		if rc, err := C.set_int_option(h, C.int(o.opt), C.int(o.v)); rc != 0 {
			return fmt.Errorf("libzmq: zmq_setsockopt(%d, %d): %w", o.opt, o.v, err)
		}
	}
	return nil
}

// rawSocket returns the libzmq socket handle inside a pebbe/zmq4 socket,
// which keeps it in an unexported field.
func rawSocket(s *zmq.Socket) unsafe.Pointer {
	return unsafe.Pointer(reflect.ValueOf(s).Elem().FieldByName("soc").Pointer())
}
