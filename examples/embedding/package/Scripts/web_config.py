# Bound to the web_config management driver, which the embedding example implements in Rust.
