#!/bin/sh
# The daemon's tickers of one exchange as tab-separated "symbol bid ask", with socat and jq:
#   examples/consumer.sh kraken
#   SOCKET=./run/aggregator.sock examples/consumer.sh binance
# The subscribe line goes first; `sleep` keeps our side open (the daemon sends to a client
# that closed its side too, but socat would stop reading half a second after). Lines before
# the ack were sent before the filter applied: jq skips them.
set -eu
SOCKET=${SOCKET:-/run/aggregator/aggregator.sock}
EXCHANGE=${1:-kraken}

{ printf '{"op":"subscribe","exchanges":["%s"],"types":["ticker"]}\n' "$EXCHANGE"; sleep infinity; } |
    socat - UNIX-CONNECT:"$SOCKET" |
    jq -nr --unbuffered '
        foreach inputs as $m (false; . or ($m.type == "ack");
            if . and $m.type == "ticker" then $m else empty end)
        | [.symbol, .bid, .ask] | @tsv'
