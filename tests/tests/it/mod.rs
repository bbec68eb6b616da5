mod bad_input;
mod clip;
mod common;
mod crash;
mod encoders;
mod search;
mod web;
mod serve;
