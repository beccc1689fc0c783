package libzmq

import zmq "github.com/pebbe/zmq4"

// The socket-level cases also drive libzmq's raw STREAM sockets.
func init() { types["STREAM"] = zmq.STREAM }
