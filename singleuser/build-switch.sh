#!/bin/sh
# Reads one of the image's build switches: `build-switch.sh NAME VALUE` prints "true" or
# "false", accepting the spellings edahub's settings accept (true/false, yes/no, on/off,
# 1/0, any case), and fails with the fix for anything else. Used by the Dockerfile's
# optional layers, so that every layer reads a switch the same way.
value=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')
case "$value" in
    1|true|yes|on) echo true ;;
    0|false|no|off) echo false ;;
    *)
        echo "error: build argument $1=\"$2\" is neither true nor false;" \
             "pass --build-arg $1=true or --build-arg $1=false" >&2
        exit 1 ;;
esac
