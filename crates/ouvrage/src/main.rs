fn main() -> std::process::ExitCode {
    ouvrage::cli::main()
}
