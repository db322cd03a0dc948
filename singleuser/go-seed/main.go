// The Go packages the singleuser image pre-fetches for GoNB: the MariaDB/MySQL driver and
// the MongoDB driver. The Dockerfile resolves this program the way GoNB resolves a cell
// (`go mod init`, `go get`, `go build` in a fresh module), so the image's module cache
// holds every module and checksum such a cell needs, and a cell importing these packages
// compiles with no network. Pinned versions: GO_MYSQL_VERSION and GO_MONGO_VERSION.
package main

import (
	_ "github.com/go-sql-driver/mysql"
	_ "go.mongodb.org/mongo-driver/v2/bson"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "go.mongodb.org/mongo-driver/v2/mongo/options"
	_ "go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

func main() {}
