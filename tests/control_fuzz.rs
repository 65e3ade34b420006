//! Random control requests through the simulated I/O manager into the host-built driver behind
//! its KMDF shell (tests/support/control_fuzz.rs): allowed statuses only, nothing changed by a
//! refused request, no violation, nothing left after unload.

#[path = "support/control_fuzz.rs"]
mod control_fuzz;
#[path = "support/host_driver.rs"]
mod host_driver;
#[path = "support/kmdf_host.rs"]
mod kmdf_host;

use host_driver::configure_port;

#[test]
fn thousands_of_random_requests_answer_in_words_and_change_nothing_when_refused() {
    let _serial = kmdf_host::serial();
    let load = kmdf_host::load(configure_port);
    let sim = load.sim;
    let (accepted, changes) = control_fuzz::run(sim, 0x5EED_C0DE, 4000);
    assert!(
        accepted > 400 && changes > 100,
        "enough requests got through: {accepted}, {changes} changes"
    );
    load.unload().assert_clean();
}
