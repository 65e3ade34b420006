//! Entry shells: the thin code that the kernel calls first and last. The WDK build's KMDF shell
//! lives beside this one and is compiled only with the `wdk` feature.

#[cfg(not(feature = "wdk"))]
mod wdm;
