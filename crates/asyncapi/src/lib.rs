//! AsyncAPI 3.0 documents generated from the proto descriptors and the
//! topology declaration (work in progress).
