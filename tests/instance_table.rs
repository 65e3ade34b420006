//! The driver-instance table (src/driver/instance/) through its public API: what a filter
//! context may enter, retirement, the count of classifies inside, release, reuse of a slot with
//! a new generation (no context of an earlier instance ever enters a later one). One test in its
//! own binary: the table is a static shared by everything in the process.

use wfp_injector::driver::instance::{InstanceId, STRIPES, enter, register};

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
    let first = enter(id_a, 0).expect("the live instance is entered");
    assert_eq!(first.state(), state_a);
    // On another processor, and on one beyond the stripes (it shares one): counted all the same.
    let second = enter(id_a, 5).expect("entered twice at once");
    assert_eq!(a.users(), 2, "two classifies inside, on two processors");
    // Each classify wrote only its processor's stripe.
    assert_eq!((a.users_on(0), a.users_on(5)), (1, 1));
    for processor in (1..STRIPES as u32).filter(|&p| p != 5) {
        assert_eq!(
            a.users_on(processor),
            0,
            "processor {processor}'s stripe untouched"
        );
    }
    let beyond = 1_000_003;
    let third = enter(id_a, beyond).expect("a processor beyond the stripes");
    assert_eq!(a.users(), 3);
    assert_eq!(
        a.users_on(beyond % STRIPES as u32),
        if beyond as usize % STRIPES == 5 { 2 } else { 1 },
        "a processor beyond the stripes shares the stripe of its index modulo their number"
    );
    drop(third);
    drop(first);
    assert_eq!(a.users(), 1);

    // Not retired yet: release refuses, the instance stays enterable.
    let a = a.release().expect_err("release before retire is refused");
    assert!(enter(id_a, 1).is_some());
    assert_eq!(a.users(), 1, "the entered guard above was dropped at once");

    // Retired: nothing new enters; with a classify still inside, release refuses.
    a.retire();
    assert!(
        enter(id_a, 2).is_none(),
        "a retired instance admits no classify"
    );
    let a = a.release().expect_err("a classify is still inside");
    assert_eq!(a.users(), 1);
    drop(second);
    assert_eq!(a.users(), 0);
    a.release().expect("retired and empty: released");
    assert!(
        enter(id_a, 2).is_none(),
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
                enter(*old, round as u32).is_none(),
                "round {round}: {old:?} must not enter {id:?}"
            );
        }
        let inside = enter(id, 3).expect("the new instance is live");
        assert_eq!(inside.state(), state);
        drop(inside);
        next.retire();
        next.release().expect("released");
        earlier.push(id);
    }

    // Contexts that name no slot, or a slot never claimed, enter nothing.
    assert!(enter(InstanceId::from_raw_context(u64::MAX), 0).is_none());
    assert!(enter(InstanceId::from_raw_context(0), 0).is_none());
}
