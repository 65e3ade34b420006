//! Per-processor state: the driver's counters are one set per processor, each on cache lines of
//! its own; classify and completions add on the processor they run on; readers sum the sets,
//! exactly once nothing runs. The simulated stack places threads on processors (a test-settable
//! count, a processor per thread).

#[path = "support/heap.rs"]
mod heap;

#[path = "support/host_driver.rs"]
mod host_driver;

use host_driver::{PORT, configure_port, counters_layer, load, udp};

use wfp_injector::inject::PerProcessor;
use wfp_injector::nt::NtStatus;
use wfp_injector::sys::KernelApi;
use wfp_sim::traffic::{Delivery, Layer};
use wfp_sim::{KernelFn, SimulatedStack};

/// Packets delivered on processor `processor`; their originals, to return once every
/// injection has completed (another thread's `complete_all` may be completing one of this
/// thread's injections while this thread's finds nothing left).
fn traffic_on(sim: &SimulatedStack, processor: u32, layer: Layer, packets: u32) -> Vec<usize> {
    let _place = sim.run_on_processor(processor);
    let mut originals = Vec::new();
    for _ in 0..packets {
        let delivered = sim.deliver(layer, &udp(layer, PORT), Delivery::default());
        sim.complete_all(NtStatus::SUCCESS);
        originals.push(delivered.nbl as usize);
    }
    originals
}

/// Completes what is left, then returns the originals.
fn return_all(sim: &SimulatedStack, originals: Vec<usize>) {
    sim.complete_all(NtStatus::SUCCESS);
    for nbl in originals {
        sim.return_packet(nbl as *mut _);
    }
}

#[test]
fn the_simulated_stack_places_threads_on_its_processors() {
    let sim = SimulatedStack::new();
    sim.set_processor_count(70);
    let kernel = &sim;
    assert_eq!(kernel.ke_query_active_processor_count_ex(0xFFFF), 70);
    assert_eq!(kernel.ke_query_active_processor_count_ex(0), 64);
    assert_eq!(kernel.ke_query_active_processor_count_ex(1), 6);
    assert_eq!(kernel.ke_query_active_processor_count_ex(2), 0);
    {
        let _place = sim.run_on_processor(65);
        let mut number = wfp_injector::sys::types::PROCESSOR_NUMBER::default();
        // SAFETY: `number` is writable.
        let index = unsafe { kernel.ke_get_current_processor_number_ex(&mut number) };
        assert_eq!((index, number.Group, number.Number), (65, 1, 1));
    }
    // Threads that never asked are spread over the processors.
    let seen: std::collections::BTreeSet<u32> = (0..8)
        .map(|_| {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        // SAFETY: a null PROCESSOR_NUMBER asks for the index alone.
                        unsafe { kernel.ke_get_current_processor_number_ex(std::ptr::null_mut()) }
                    })
                    .join()
                    .unwrap()
            })
        })
        .collect();
    assert_eq!(seen.len(), 8, "{seen:?}");
    sim.assert_clean();
}

#[test]
#[should_panic(expected = "is not moved between processors")]
fn a_thread_at_dispatch_level_is_not_moved() {
    let sim = SimulatedStack::new();
    let _irql = sim.set_irql(wfp_injector::nt::Irql::DISPATCH);
    let _place = sim.run_on_processor(1);
}

#[test]
fn per_processor_values_are_sized_from_the_active_count_and_each_on_its_own_lines() {
    let sim = SimulatedStack::new();
    sim.set_processor_count(5);
    let values = PerProcessor::new(&&sim, || std::sync::atomic::AtomicU64::new(0)).unwrap();
    assert_eq!(values.count(), 5);
    assert_eq!(sim.calls(KernelFn::KeQueryActiveProcessorCountEx), 1);
    let addresses: Vec<usize> = values
        .iter()
        .map(|value| std::ptr::from_ref(value) as usize)
        .collect();
    for pair in addresses.windows(2) {
        assert!(pair[1] - pair[0] >= 64, "{addresses:x?}");
    }
    assert!(
        addresses.iter().all(|address| address % 64 == 0),
        "{addresses:x?}"
    );
    // A processor added after the count was taken shares a value, never reaches past the set.
    assert_eq!(
        std::ptr::from_ref(values.get(7)),
        std::ptr::from_ref(values.get(2))
    );
    {
        let _place = sim.run_on_processor(3);
        assert_eq!(
            std::ptr::from_ref(values.current(&&sim)),
            std::ptr::from_ref(values.get(3))
        );
    }
    sim.assert_clean();
}

/// A processor index at or beyond the count (a processor added after load) shares the value of
/// `index % count`, never a value past the block.
#[test]
fn an_index_beyond_the_count_shares_a_value_inside_the_set() {
    let values = PerProcessor::with_count(3, || std::sync::atomic::AtomicU64::new(0)).unwrap();
    for index in 3..9u32 {
        assert!(
            std::ptr::eq(values.get(index), values.get(index % 3)),
            "processor {index} shares processor {}'s value",
            index % 3
        );
    }
    assert_eq!(values.iter().count(), 3);
}

#[test]
fn each_processor_counts_its_own_packets_and_the_sums_are_exact() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_processor_count(3);
    configure_port(&sim);
    let driver = load(&sim);
    let layer = Layer::OutboundV4;
    for processor in 0..3 {
        let originals = traffic_on(&sim, processor, layer, processor + 1);
        return_all(&sim, originals);
    }
    for processor in 0..3 {
        let own = driver.counters_on(processor, counters_layer(layer));
        assert_eq!(
            (own.classified, own.reinjected),
            (u64::from(processor) + 1, u64::from(processor) + 1),
            "processor {processor}"
        );
    }
    let total = driver.counters(counters_layer(layer));
    assert_eq!((total.classified, total.reinjected), (6, 6));
    assert_eq!(driver.completions(), (6, 0));
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}

#[test]
fn classifies_on_many_processors_at_once_sum_exactly_when_quiescent() {
    let _heap = heap::check();
    let sim = SimulatedStack::new();
    sim.set_processor_count(4);
    configure_port(&sim);
    let driver = load(&sim);
    let layer = Layer::OutboundV4;
    const PER_THREAD: u32 = 40;
    let originals: Vec<usize> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|processor| {
                let sim = &sim;
                scope.spawn(move || traffic_on(sim, processor, layer, PER_THREAD))
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });
    return_all(&sim, originals);
    let total = driver.counters(counters_layer(layer));
    assert_eq!(total.classified, 4 * u64::from(PER_THREAD));
    assert_eq!(total.reinjected, 4 * u64::from(PER_THREAD));
    for processor in 0..4 {
        assert_eq!(
            driver
                .counters_on(processor, counters_layer(layer))
                .classified,
            u64::from(PER_THREAD),
            "processor {processor}"
        );
    }
    assert_eq!(driver.completions(), (4 * u64::from(PER_THREAD), 0));
    assert_eq!(driver.unload(), NtStatus::SUCCESS);
    sim.assert_clean();
}
