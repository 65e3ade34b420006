//! The wfpinjctl.exe that scripts/build-ctl.sh cross-builds, run under wine: `--help`, a bad
//! argument (named, exit 2) and the path where the driver is not loaded (CreateFileW fails with
//! ERROR_FILE_NOT_FOUND: exit 1, "driver not loaded"). Needs `scripts/build-ctl.sh` and
//! Debian's wine; outside CI a missing .exe or wine is reported as skipped.

use std::path::PathBuf;
use std::process::Command;

fn exe() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ctl/wfpinjctl.exe");
    let wine = Command::new("wine").arg("--version").output().is_ok();
    match (path.is_file(), wine) {
        (true, true) => Some(path),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI needs target/ctl/wfpinjctl.exe and wine: run scripts/build-ctl.sh")
        }
        (exists, wine) => {
            eprintln!(
                "SKIPPED: wfpinjctl.exe built: {exists}, wine present: {wine} \
                 (scripts/build-ctl.sh; apt-get install wine)"
            );
            None
        }
    }
}

/// Runs the .exe under wine in a prefix of its own: (exit status, stdout, stderr).
fn run(exe: &PathBuf, arguments: &[&str]) -> (i32, String, String) {
    let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ctl/wineprefix");
    std::fs::create_dir_all(&prefix).unwrap();
    let output = Command::new("wine")
        .arg(exe)
        .args(arguments)
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        // No .NET or HTML engine to install into the new prefix: a console program needs neither.
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env_remove("DISPLAY")
        .output()
        .expect("run wine");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_windows_exe_answers_help_a_bad_argument_and_no_driver_in_words() {
    let Some(exe) = exe() else {
        return;
    };
    let (code, out, err) = run(&exe, &["--help"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("wfpinjctl: see and steer"), "{out}");

    let (code, out, err) = run(&exe, &["inspect", "add", "--remote", "10.0.0.300"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("--remote: '10.0.0.300' is not an IPv4 or IPv6 address"),
        "{err}"
    );

    let (code, out, err) = run(&exe, &["status"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(r"driver not loaded (\\.\WfpInjector not found)"),
        "{err}"
    );
}
