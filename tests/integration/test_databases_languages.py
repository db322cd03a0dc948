"""The per-user databases from R and Go notebooks, with nothing but the injected environment."""

import pytest

from edahub_core.names import database_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gina(running_server):
    """A user whose server runs R and Go kernels; another user, hank, owns data she must not see."""
    return running_server("gina")


R_MARIADB = r"""
con <- DBI::dbConnect(RMariaDB::MariaDB(), host = Sys.getenv("MARIADB_HOST"),
                      user = Sys.getenv("MARIADB_USER"), password = Sys.getenv("MARIADB_PASSWORD"),
                      dbname = Sys.getenv("MARIADB_DATABASE"))
DBI::dbWriteTable(con, "r_notes", data.frame(id = 1:3, body = c("a", "b", "c")), overwrite = TRUE)
cat("rows:", nrow(DBI::dbReadTable(con, "r_notes")), "\n")
other <- tryCatch(DBI::dbGetQuery(con, "SELECT 1 FROM `VICTIM`.r_notes"),
                  error = function(e) conditionMessage(e))
cat("other:", grepl("denied", other), "\n")
"""

R_MONGODB = r"""
if (!requireNamespace("mongolite", quietly = TRUE)) {
  cat("mongolite: not installed\n")
} else {
  m <- mongolite::mongo("r_notes", url = Sys.getenv("MONGODB_URI"))
  m$drop(); m$insert(data.frame(id = 1:2, body = c("x", "y")))
  cat("docs:", m$count(), "\n")
}
"""

GO_ROUND_TRIP = r"""
import (
    "context"
    "database/sql"
    "fmt"
    "os"

    _ "github.com/go-sql-driver/mysql"
    "go.mongodb.org/mongo-driver/v2/bson"
    "go.mongodb.org/mongo-driver/v2/mongo"
    "go.mongodb.org/mongo-driver/v2/mongo/options"
)
%%
dsn := fmt.Sprintf("%s:%s@tcp(%s:%s)/%s", os.Getenv("MARIADB_USER"), os.Getenv("MARIADB_PASSWORD"),
    os.Getenv("MARIADB_HOST"), os.Getenv("MARIADB_PORT"), os.Getenv("MARIADB_DATABASE"))
db, err := sql.Open("mysql", dsn)
if err != nil { panic(err) }
if _, err := db.Exec("CREATE TABLE IF NOT EXISTS go_notes (id INT PRIMARY KEY, body TEXT)"); err != nil { panic(err) }
if _, err := db.Exec("REPLACE INTO go_notes VALUES (1, 'from go')"); err != nil { panic(err) }
var body string
if err := db.QueryRow("SELECT body FROM go_notes WHERE id = 1").Scan(&body); err != nil { panic(err) }
fmt.Println("mariadb:", body)
_, err = db.Exec("SELECT 1 FROM `VICTIM`.go_notes")
fmt.Println("mariadb other denied:", err != nil)

ctx := context.Background()
client, err := mongo.Connect(options.Client().ApplyURI(os.Getenv("MONGODB_URI")))
if err != nil { panic(err) }
defer client.Disconnect(ctx)
coll := client.Database(os.Getenv("MONGODB_DATABASE")).Collection("go_notes")
if _, err := coll.ReplaceOne(ctx, bson.M{"_id": 1}, bson.M{"_id": 1, "body": "from go"},
    options.Replace().SetUpsert(true)); err != nil { panic(err) }
var doc bson.M
if err := coll.FindOne(ctx, bson.M{"_id": 1}).Decode(&doc); err != nil { panic(err) }
fmt.Println("mongodb:", doc["body"])
_, err = client.Database("VICTIM").Collection("go_notes").InsertOne(ctx, bson.M{"x": 1})
fmt.Println("mongodb other denied:", err != nil)
"""


def victim():
    return database_name("hank")


@pytest.fixture(scope="module")
def hank(make_user):
    """hank exists, so his databases do (created at his first spawn)."""
    hank = make_user("hank")
    hank.start_server()
    hank.stop_server()
    return hank


def test_r_reads_and_writes_its_mariadb_and_not_another_users(gina, hank):
    result = gina.execute(R_MARIADB.replace("VICTIM", victim()), kernel_name="ir", timeout=180)
    assert result.reply["status"] == "ok", result.error
    assert result.stdout.splitlines() == ["rows: 3 ", "other: TRUE "]


def test_r_uses_mongodb_where_mongolite_is_installed(gina):
    result = gina.execute(R_MONGODB, kernel_name="ir", timeout=180)
    assert result.reply["status"] == "ok", result.error
    if result.stdout.strip() == "mongolite: not installed":
        pytest.skip("mongolite comes from CRAN, which this build could not reach "
                    "(EDAHUB_SINGLEUSER_CRAN=false)")
    assert result.stdout.strip() == "docs: 2"


def test_go_reads_and_writes_both_databases_and_not_another_users(gina, hank):
    result = gina.execute(GO_ROUND_TRIP.replace("VICTIM", victim()), kernel_name="gonb",
                          timeout=600)
    assert result.reply["status"] == "ok", f"{result.error}\n{result.stdout}"
    assert result.stdout.splitlines() == [
        "mariadb: from go", "mariadb other denied: true",
        "mongodb: from go", "mongodb other denied: true",
    ]
