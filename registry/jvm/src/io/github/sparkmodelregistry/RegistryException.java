package io.github.sparkmodelregistry;

/** A model that cannot be resolved or deployed as asked; the message says why and what to do. */
public class RegistryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public RegistryException(String message) {
        super(message);
    }

    public RegistryException(String message, Throwable cause) {
        super(message, cause);
    }
}
