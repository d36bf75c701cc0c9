fn main() {
    std::process::exit(jail::run(std::env::args_os().collect()));
}
