# Shared by the bench scripts (sourced): a free loopback port, and the minimal collector
# and agent configs they run with.

# A TCP port free on 127.0.0.1 now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# collector_config DIR PORT: DIR/server.toml for a collector on 127.0.0.1:PORT with its
# SQLite store in DIR and a fresh enrolment token in DIR/enrolment-token.
collector_config() {
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$1/enrolment-token"
    cat > "$1/server.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
[storage]
sqlite_path = "$1/estate.db"
[auth]
enrolment_token_file = "$1/enrolment-token"
TOML
}

# agent_config DIR PORT INTERVAL [SAMPLE]: DIR/agent.toml for an agent reporting to that
# collector every INTERVAL seconds, sampling utilisation every SAMPLE seconds (default 1;
# the agent's own default is 10), its state in DIR/agent.
agent_config() {
    cat > "$1/agent.toml" <<TOML
[collector]
url = "http://127.0.0.1:$2"
enrolment_token_file = "$1/enrolment-token"
[agent]
state_dir = "$1/agent"
report_interval_secs = $3
sample_interval_secs = ${4:-1}
TOML
}
