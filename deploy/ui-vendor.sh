#!/bin/sh
# Fetches the dashboard's third-party libraries from the npm registry, at
# pinned versions with pinned integrity, into ui/static/vendor (committed:
# building the agent needs nothing but Go). Run it to upgrade one: change
# its version and integrity here, run `make ui-vendor`, read the diff.
set -eu
cd "$(dirname "$0")/.."
out=ui/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name@version integrity (npm's sha512, as `npm view NAME@VERSION dist.integrity` prints it)
fetch() {
	spec=$1 want=$2
	file=$(cd "$work" && npm pack --silent "$spec")
	got="sha512-$(openssl dgst -sha512 -binary "$work/$file" | base64 -w0)"
	if [ "$got" != "$want" ]; then
		echo "ui-vendor: $spec: integrity $got, want $want" >&2
		exit 1
	fi
	mkdir -p "$work/${file%.tgz}"
	tar xzf "$work/$file" -C "$work/${file%.tgz}"
	echo "$work/${file%.tgz}/package"
}

# copy SRC DEST: without the source map line (the maps are not vendored).
copy() {
	sed '/^\/\/# sourceMappingURL=/d' "$1" >"$2"
}

p=$(fetch uplot@1.6.32 sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==)
mkdir -p $out/uplot
copy "$p/dist/uPlot.esm.js" $out/uplot/uPlot.esm.js
cp "$p/dist/uPlot.min.css" $out/uplot/uPlot.min.css
cp "$p/LICENSE" $out/uplot/LICENSE

p=$(fetch @xterm/xterm@6.0.0 sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==)
mkdir -p $out/xterm
copy "$p/lib/xterm.mjs" $out/xterm/xterm.mjs
cp "$p/css/xterm.css" $out/xterm/xterm.css
cp "$p/LICENSE" $out/xterm/LICENSE

p=$(fetch @xterm/addon-fit@0.11.0 sha512-jYcgT6xtVYhnhgxh3QgYDnnNMYTcf8ElbxxFzX0IZo+vabQqSPAjC3c1wJrKB5E19VwQei89QCiZZP86DCPF7g==)
copy "$p/lib/addon-fit.mjs" $out/xterm/addon-fit.mjs
cp "$p/LICENSE" $out/xterm/LICENSE-addon-fit

echo "ui-vendor: uplot 1.6.32, @xterm/xterm 6.0.0, @xterm/addon-fit 0.11.0 in $out"
