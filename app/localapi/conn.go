package localapi

import "net"

// Conn is a connection to the local API.
type Conn = net.Conn
