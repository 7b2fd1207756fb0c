pub mod sizing;
pub mod strategies;
