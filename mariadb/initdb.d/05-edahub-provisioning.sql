-- edahub: the only way the hub changes MariaDB's accounts. Run as root: by the image's
-- entrypoint on a new volume (before 10-edahub-provisioner.sh, which creates the hub's
-- account), and by `python3 scripts/bootstrap.py upgrade` on an existing one
-- (scripts/edahub/provisioning.py). Safe to run again.
--
-- The hub's account, edahub_provisioner, may only call the two procedures below. They
-- run with the rights of edahub_definer, an account nobody can log in to (ACCOUNT LOCK),
-- and do exactly one thing each, for a name that is a user's database name and nothing
-- else: the provisioning password alone cannot create, rename or drop any other account,
-- grant anything else, or read any data.
--
-- The name rule is edahub_core.names.SAFE_DATABASE_NAME and the connection cap
-- DATABASE_CONNECTIONS_PER_USER (tests/unit/test_mariadb_provisioning.py keeps them in
-- step). Names and passwords are checked before they are put into a statement, so
-- quoting them is plain. The patterns end in \z, not $: $ also matches before a final
-- newline.

CREATE DATABASE IF NOT EXISTS `edahub_admin`;
CREATE DATABASE IF NOT EXISTS `datasets`;

CREATE USER IF NOT EXISTS 'edahub_definer'@'localhost' ACCOUNT LOCK;
ALTER USER 'edahub_definer'@'localhost' ACCOUNT LOCK;
-- `u_%`, not `u\_%`: MariaDB ignores an escaped pattern when it checks GRANT OPTION
-- (11.8, checked), so every GRANT would fail. `_` matches any character here: give no
-- other database a name of "u", one character, and more.
GRANT CREATE USER ON *.* TO 'edahub_definer'@'localhost';
GRANT ALL PRIVILEGES ON `u_%`.* TO 'edahub_definer'@'localhost' WITH GRANT OPTION;
GRANT SELECT ON `datasets`.* TO 'edahub_definer'@'localhost' WITH GRANT OPTION;
-- A routine runs only if its definer may run it (and the check below, inside it).
GRANT EXECUTE ON `edahub_admin`.* TO 'edahub_definer'@'localhost';

DELIMITER ;;

CREATE OR REPLACE DEFINER = 'edahub_definer'@'localhost'
FUNCTION `edahub_admin`.`is_user_database` (name VARCHAR(128)) RETURNS BOOLEAN
    DETERMINISTIC NO SQL
    COMMENT 'edahub: is this exactly a name the hub gives a user''s database?'
    RETURN name IS NOT NULL
        AND CAST(name AS BINARY) REGEXP '^u_[a-z0-9_]{1,20}_(?:[0-9a-f]{24}|[0-9a-f]{10})\\z';;

CREATE OR REPLACE DEFINER = 'edahub_definer'@'localhost'
PROCEDURE `edahub_admin`.`ensure_account` (IN name VARCHAR(128), IN password VARCHAR(128),
                                           IN datasets BOOLEAN)
    MODIFIES SQL DATA SQL SECURITY DEFINER
    COMMENT 'edahub: create a user''s database and account when missing, set its password'
BEGIN
    -- A REVOKE of a grant that was never made (error 1141) is fine.
    DECLARE CONTINUE HANDLER FOR 1141 BEGIN END;
    IF NOT `edahub_admin`.`is_user_database`(name) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'edahub: not a user database name';
    END IF;
    IF password IS NULL OR CAST(password AS BINARY) NOT REGEXP '^[0-9a-f]{64}\\z' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'edahub: a password is 64 hex digits';
    END IF;
    EXECUTE IMMEDIATE CONCAT('CREATE DATABASE IF NOT EXISTS `', name, '`');
    EXECUTE IMMEDIATE CONCAT('CREATE USER IF NOT EXISTS ''', name, '''@''%'' IDENTIFIED BY ''',
                             password, ''' WITH MAX_USER_CONNECTIONS 30');
    EXECUTE IMMEDIATE CONCAT('ALTER USER ''', name, '''@''%'' IDENTIFIED BY ''', password, '''');
    -- The grant covers exactly this database: '_' is a wildcard in a grant's name, so it
    -- is escaped (a grant on the plain name, as edahub 0.1 made, is taken back).
    EXECUTE IMMEDIATE CONCAT('REVOKE ALL PRIVILEGES ON `', name, '`.* FROM ''', name, '''@''%''');
    EXECUTE IMMEDIATE CONCAT('GRANT ALL PRIVILEGES ON `', REPLACE(name, '_', '\\_'),
                             '`.* TO ''', name, '''@''%''');
    IF datasets THEN
        EXECUTE IMMEDIATE CONCAT('GRANT SELECT ON `datasets`.* TO ''', name, '''@''%''');
    ELSE
        EXECUTE IMMEDIATE CONCAT('REVOKE SELECT ON `datasets`.* FROM ''', name, '''@''%''');
    END IF;
END;;

CREATE OR REPLACE DEFINER = 'edahub_definer'@'localhost'
PROCEDURE `edahub_admin`.`drop_account` (IN name VARCHAR(128))
    MODIFIES SQL DATA SQL SECURITY DEFINER
    COMMENT 'edahub: drop a user''s database and account (an admin deleted the user)'
BEGIN
    IF NOT `edahub_admin`.`is_user_database`(name) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'edahub: not a user database name';
    END IF;
    EXECUTE IMMEDIATE CONCAT('DROP DATABASE IF EXISTS `', name, '`');
    EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS ''', name, '''@''%''');
END;;

DELIMITER ;
