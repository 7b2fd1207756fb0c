use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = mt5_bridge::config::Cli::parse();
    mt5_bridge::cli::run(cli.command).await
}
