//! The driver-instance table (src/driver/instance.rs) through its public API: what a filter
//! context may enter, retirement, the count of classifies inside, release, reuse of a slot with
//! a new generation (no context of an earlier instance ever enters a later one). One test in its
//! own binary: the table is a static shared by everything in the process.

use wfp_injector::driver::instance::{InstanceId, enter, register};

fn slot_of(id: InstanceId) -> u64 {
    id.raw_context() & 0xFFFF_FFFF
}

#[test]
fn the_instance_table_admits_only_the_live_instance_and_counts_classifies_inside() {
    let state_a = 0x1000 as *const ();
    let a = register(state_a, 0x1234_5678_9abc).expect("a free slot");
    let id_a = a.id();
    assert_eq!(
        InstanceId::from_raw_context(id_a.raw_context()),
        id_a,
        "a filter context round-trips"
    );
    assert_eq!(a.users(), 0);
    // Not retired: release refuses even with no classify inside.
    let a = a.release().expect_err("release before retire is refused");

    // Live: classifies enter, see the registered state, and are counted while inside.
    let first = enter(id_a).expect("the live instance is entered");
    assert_eq!(first.state(), state_a);
    let second = enter(id_a).expect("entered twice at once");
    assert_eq!(a.users(), 2, "two classifies inside");
    drop(first);
    assert_eq!(a.users(), 1);

    // Not retired yet: release refuses, the instance stays enterable.
    let a = a.release().expect_err("release before retire is refused");
    assert!(enter(id_a).is_some());
    assert_eq!(a.users(), 1, "the entered guard above was dropped at once");

    // Retired: nothing new enters; with a classify still inside, release refuses.
    a.retire();
    assert!(
        enter(id_a).is_none(),
        "a retired instance admits no classify"
    );
    let a = a.release().expect_err("a classify is still inside");
    assert_eq!(a.users(), 1);
    drop(second);
    assert_eq!(a.users(), 0);
    a.release().expect("retired and empty: released");
    assert!(
        enter(id_a).is_none(),
        "a released instance admits no classify"
    );

    // The slot is free again: the next instance takes it with a new generation, and no context
    // of an earlier instance of that slot enters it, however many instances come and go.
    let mut earlier = vec![id_a];
    for round in 0..4 {
        let state = (0x2000 + round * 0x10) as *const ();
        let next = register(state, round as u64).expect("a free slot");
        let id = next.id();
        assert_eq!(
            slot_of(id),
            slot_of(id_a),
            "round {round}: the released slot is reused"
        );
        for old in &earlier {
            assert_ne!(*old, id, "round {round}: a new generation");
            assert!(
                enter(*old).is_none(),
                "round {round}: {old:?} must not enter {id:?}"
            );
        }
        let inside = enter(id).expect("the new instance is live");
        assert_eq!(inside.state(), state);
        drop(inside);
        next.retire();
        next.release().expect("released");
        earlier.push(id);
    }

    // Contexts that name no slot, or a slot never claimed, enter nothing.
    assert!(enter(InstanceId::from_raw_context(u64::MAX)).is_none());
    assert!(enter(InstanceId::from_raw_context(0)).is_none());
}
