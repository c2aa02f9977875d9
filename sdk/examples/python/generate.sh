#!/usr/bin/env sh
# Generates the Python stubs of chime.v1 from proto/ with grpc_tools.protoc, protoc with the
# standard gRPC Python plugin (Debian: apt-get install python3-grpcio python3-grpc-tools).
# The stubs are not committed: run this once, or let the test suite generate them into a
# temporary directory.
#
#   sdk/examples/python/generate.sh [OUT_DIR]    (default: sdk/examples/python/gen)
#
# Debian 12's python3-grpc-tools bundles protoc 3.5.1, older than proto3 `optional` (3.15).
# The stubs are therefore generated from a copy of the .proto files with that keyword
# removed: the wire format is the same; only has-presence of those fields (the optional
# `name` of the create requests) is lost, so leave a name unset rather than sending "".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$here/gen}
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -R "$root/proto/chime" "$work/"
sed -i -E 's/^([[:space:]]+)optional /\1/' "$work"/chime/v1/*.proto
mkdir -p "$out"
"$python" -m grpc_tools.protoc \
  -I "$work" \
  --python_out="$out" \
  --grpc_python_out="$out" \
  "$work/chime/v1/schedule.proto" \
  "$work/chime/v1/scheduler_service.proto"
