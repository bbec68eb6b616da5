//! pith's one integration-test binary. Real models from the model cache
//! (`make models`), real photos from scikit-image's wheel (`make testdata`);
//! nothing from ../shared.

mod it;
